"""Profiles: every shipped profile loads; malformed ones fail naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nas.errors import ConfigError, NotFoundError
from nas.hardware import HardwareProfile, list_profiles, load_profile

REQUIRED = {"rp2040", "nrf52840", "nucleo-l4r5zi", "stm32f746-disco", "nucleo-h743zi", "ek-ra6m4",
            "alif-e7-m55", "pi-zero-2w", "pi-4", "pi-5", "host"}


def test_shipped_profiles_load_sorted_with_sources() -> None:
    profiles = list_profiles()
    names = [p.name for p in profiles]
    assert names == sorted(names)
    assert REQUIRED <= set(names)
    for p in profiles:
        assert isinstance(p, HardwareProfile)
        assert p.source and p.description
        for key in p.cost:
            assert p.sources[f"cost.{key}"].strip(), f"{p.name}: cost.{key} has no source"
        assert Path(p.path).stem == p.name


def test_profile_by_name_and_by_path() -> None:
    p = load_profile("nucleo-l4r5zi")
    assert (p.kind, p.core, p.clock_mhz, p.kernels, p.kernel_variant) == ("mcu", "cortex-m4f", 120, "cmsis-nn", "dsp")
    assert load_profile(p.path) == p


def test_unknown_profile_lists_available() -> None:
    with pytest.raises(NotFoundError) as e:
        load_profile("no-such-board")
    assert "no-such-board" in str(e.value) and "nucleo-l4r5zi" in str(e.value)


def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load(Path(load_profile("nucleo-l4r5zi").path).read_text())
    mutate(raw)
    f = tmp_path / "broken.yaml"
    f.write_text(yaml.safe_dump(raw))
    return f


@pytest.mark.parametrize("mutate, key", [
    (lambda r: r.update(colour="red"), "colour"),
    (lambda r: r.pop("clock_mhz"), "clock_mhz"),
    (lambda r: r.update(sram_kb="lots"), "sram_kb"),
    (lambda r: r.update(kind="gpu"), "kind"),
    (lambda r: r["cost"].update(conv_1x1={"value": 3.0}), "cost.conv_1x1"),
    (lambda r: r["cost"].update(fc={"value": "fast", "source": "x"}), "cost.fc.value"),
    (lambda r: r["runtime_code_kb"].update(source=""), "runtime_code_kb.source"),
])
def test_malformed_profile_names_file_and_key(tmp_path: Path, mutate, key: str) -> None:
    f = _write(tmp_path, mutate)
    with pytest.raises(ConfigError) as e:
        load_profile(f)
    assert str(f) in str(e.value) and key in str(e.value)


def test_bad_yaml_names_file(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_profile(f)
