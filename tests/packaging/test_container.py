"""The container image and the scale-out compose file, checked without a container runtime: the Dockerfile's
essentials (hadolint runs in ./dev test), its build context makes a wheel that carries the playbook, and the
compose file runs Redis, a gateway and two workers from that image."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_the_image_is_slim_runs_as_non_root_and_checks_healthz() -> None:
    stages = DOCKERFILE.split("\nFROM ")
    runtime = stages[-1]
    assert all(re.match(r"python:3\.\d+-slim\b", stage) for stage in stages[1:])
    assert re.search(r"^USER (?!root|0\b)\S+", runtime, re.M), "the runtime stage must drop root"
    assert "gcc" not in runtime  # the compiler stays in the build stage
    health = re.search(r"^HEALTHCHECK .*\n?.*CMD (\[.*\])$", runtime, re.M)
    assert health and "/healthz" in health.group(1)
    assert 'ENTRYPOINT ["assist"]' in runtime and 'CMD ["serve"]' in runtime


def test_the_build_context_makes_a_wheel_with_the_playbook_and_calls(tmp_path: Path) -> None:
    build = DOCKERFILE.split("\nFROM ")[1]
    context = tmp_path / "context"
    context.mkdir()
    for sources in re.findall(r"^COPY (?!--from)(.+) \S+$", build, re.M):  # exactly what the image copies
        for name in sources.split():
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, context / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(src, context / name)
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "wheel", "--no-deps",
                    "-w", str(tmp_path / "wheels"), str(context)], check=True, timeout=300)
    (wheel,) = (tmp_path / "wheels").glob("assist-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "assist/bundled/rules/playbook/pack.yaml" in names
    assert "assist/bundled/examples/demo_en.jsonl" in names


def test_compose_runs_redis_a_gateway_and_two_workers_from_the_image() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"redis", "gateway", "worker-1", "worker-2"}
    assert "--appendonly" in services["redis"]["command"]
    assert services["gateway"]["command"] == ["gateway"] and services["gateway"]["ports"] == ["8765:8765"]
    for name in ("gateway", "worker-1", "worker-2"):
        service = services[name]
        assert service["build"] == "." and service["environment"]["ASSIST_REDIS__URL"].startswith("redis://redis:")
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["worker-1"]["command"] == services["worker-2"]["command"] == ["worker"]
