"""read_images: an images table with unknown split values is refused with each bad value named once."""

from __future__ import annotations

import pytest

from pipeline.core.errors import PipelineError
from pipeline.artifacts.tables import read_images


def test_unknown_split_values_are_listed_comma_separated_in_one_error(tmp_path):
    table = tmp_path / "images.csv"
    table.write_text("image_id,path,split\na,a.png,train\nb,b.png,holdout\nc,c.png,dev\nd,d.png,dev\n")
    with pytest.raises(PipelineError, match=r"images\.csv: unknown split value\(s\) dev, holdout; expected "
                                            r"train/val/test$"):
        read_images(table)
