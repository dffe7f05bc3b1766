"""Build LabChain's container images without Docker Hub: ``labchain images build``.

Three images, all tagged with the package version (``labchain/<kind>:<version>``):

``labchain/base``
    A minimal Debian (bookworm: Python 3.11) made by ``docker/build-base.sh`` with
    ``debootstrap --variant=minbase`` from a Debian mirror and ``docker import`` -- or any image
    given as ``--base-image`` where a registry is reachable. Built once and reused.
``labchain/node``
    One node: labchain installed from a wheel built from this checkout, a non-root user, a
    HEALTHCHECK calling ``getblockcount`` over JSON-RPC, entrypoint ``labchain node``.
``labchain/lab``
    JupyterLab + nbgrader + ipywidgets + labchain + the repository's ``labs/``.

Image builds never reach the network. On the host we build a *wheelhouse* into
``docker/context/<kind>/`` (git-ignored): ``pip wheel`` of this checkout plus ``pip download``
of its dependencies for the base image's Python version and platform; the Dockerfiles install
it with ``pip install --no-index``. Dependencies are pinned to the versions installed in the
environment running the build (the one the tests use), so the images run what was tested.

Rebuilding with nothing changed reuses Docker's layer cache for every step (the labchain wheel
is built reproducibly with a fixed ``SOURCE_DATE_EPOCH``); a code change rebuilds only the
last small layer.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from labchain.core.errors import LabchainError

REPO_ROOT = Path(__file__).resolve().parents[2]  # labchain/deploy/images.py -> the checkout
DOCKER_DIR = REPO_ROOT / "docker"
CONTEXT_DIR = DOCKER_DIR / "context"
KINDS = ("node", "lab")

#: what the lab image adds to labchain's core dependencies and its ``[lab]`` extra:
#: ``jupyterhub-singleuser``, which the class server's spawner starts in it (docs/hub.md);
#: pinned like the rest to the host's version. The node image has the core dependencies only.
LAB_EXTRAS = ("jupyterhub",)
#: wheel platform tags the base image runs (debootstrap bookworm: glibc 2.36, x86-64); pip
#: does not expand a manylinux tag to the older ones it implies, so we list them all
GLIBC_MINOR = 36
PLATFORM_TAGS = (*(f"manylinux_2_{m}_x86_64" for m in range(GLIBC_MINOR, 4, -1)),
                 "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64")
#: zip timestamps inside the labchain wheel (1980-01-01), so identical code -> identical wheel
SOURCE_DATE_EPOCH = "315532800"

Log = Callable[[str], None]


class ImageBuildError(LabchainError):
    """An image could not be built; the message says which step failed and why."""


class ImageMissingError(LabchainError):
    """A container needs an image that has not been built on this Docker engine."""


# --- names and versions ------------------------------------------------------------------

def package_version() -> str:
    """The labchain version: pyproject.toml of this checkout, else the installed metadata."""
    pyproject = REPO_ROOT / "pyproject.toml"
    if pyproject.exists():
        return tomllib.loads(pyproject.read_text())["project"]["version"]
    return importlib.metadata.version("labchain")


def image_tag(kind: str, version: str | None = None) -> str:
    """``labchain/<kind>:<version>``, e.g. ``labchain/node:0.1.0``."""
    return f"labchain/{kind}:{version or package_version()}"


def require_image(client, tag: str) -> None:
    """Raise :class:`ImageMissingError` unless ``tag`` exists on the engine behind ``client``."""
    import docker.errors

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        raise ImageMissingError(
            f"the image {tag} is not built on this Docker engine; run `labchain images build` "
            f"(or `make images`) first", tag) from None


# --- the base image ----------------------------------------------------------------------

def build_base(tag: str, base_image: str | None = None, mirror: str | None = None,
               rebuild: bool = False, log: Log = print) -> None:
    """Run ``docker/build-base.sh`` (reuses ``tag`` when it exists unless ``rebuild``)."""
    env = dict(os.environ, BASE_TAG=tag)
    if base_image:
        env["BASE_IMAGE"] = base_image
    if mirror:
        env["DEBIAN_MIRROR"] = mirror
    if rebuild:
        env["REBUILD_BASE"] = "1"
    proc = subprocess.Popen(["bash", str(DOCKER_DIR / "build-base.sh")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        log("  " + line.rstrip())
    if proc.wait() != 0:
        raise ImageBuildError(f"building the base image {tag} failed (see the lines above)", tag)


def base_python_version(client, tag: str) -> str:
    """The ``major.minor`` of ``python3`` inside the base image (label, else run it)."""
    image = client.images.get(tag)
    label = (image.labels or {}).get("org.labchain.base.python")
    if label:
        return label
    out = client.containers.run(tag, ["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                remove=True, network_disabled=True)
    return out.decode().strip()


# --- the wheelhouse ----------------------------------------------------------------------

def project_requirements(kind: str) -> list[str]:
    """Requirement strings of labchain's dependencies that the ``kind`` image needs."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    deps = list(project["dependencies"])
    if kind == "lab":
        return [*deps, *project["optional-dependencies"]["lab"], *LAB_EXTRAS]
    return deps


def installed_constraints() -> list[str]:
    """``name==version`` for every distribution in this environment except labchain itself."""
    pins = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name and name != "labchain":
            pins[name] = f"{name}=={dist.version}"
    return sorted(pins.values())


def download_dependencies(requirements: list[str], dest: Path, python_version: str,
                          log: Log = print) -> None:
    """``pip download`` binary wheels of ``requirements`` for the image's Python into ``dest``.

    Skipped when ``dest`` already holds a wheelhouse for exactly these inputs (a stamp file
    records their hash), so a warm build does not touch the package index.
    """
    constraints = installed_constraints()
    stamp_text = json.dumps([requirements, constraints, python_version, PLATFORM_TAGS])
    stamp = hashlib.sha256(stamp_text.encode()).hexdigest()
    stamp_file = dest / ".stamp"
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        log(f"  wheelhouse {dest.relative_to(REPO_ROOT)} is up to date")
        return
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / "requirements.txt").write_text("\n".join(requirements) + "\n")
    log(f"  pip download {len(requirements)} requirements for python {python_version} "
        f"-> {dest.relative_to(REPO_ROOT)}")
    # A host pin that has no wheel for the image's platform is dropped (and said so) rather
    # than failing the build: the resolver then picks the newest compatible version.
    for _attempt in range(10):
        (dest / "constraints.txt").write_text("\n".join(constraints) + "\n")
        result = subprocess.run(_pip_download_command(dest, python_version), capture_output=True,
                                text=True)
        unpinnable = set(re.findall(r"\(constraint\) (\S+==\S+)", result.stdout + result.stderr))
        if result.returncode == 0 or not unpinnable & set(constraints):
            break
        log(f"  no wheel for the host's {', '.join(sorted(unpinnable))}; letting pip choose")
        constraints = [c for c in constraints if c not in unpinnable]
    if result.returncode != 0:
        raise ImageBuildError(
            f"downloading the dependency wheels for python {python_version} failed:\n"
            f"{result.stderr.strip()[-2000:]}", requirements)
    stamp_file.write_text(stamp)
    log(f"  {len(list(dest.glob('*.whl')))} wheels")


def _pip_download_command(dest: Path, python_version: str) -> list[str]:
    # not --quiet: the resolver's "(constraint) name==version" explanation is needed above
    return [sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
            "--progress-bar", "off", "--dest", str(dest), "--only-binary=:all:",
            *(arg for tag in PLATFORM_TAGS for arg in ("--platform", tag)),
            "--python-version", python_version, "--implementation", "cp",
            "-r", str(dest / "requirements.txt"), "-c", str(dest / "constraints.txt")]


def _source_files() -> Iterable[Path]:
    """Files of this checkout that go into the labchain wheel (git-visible, not ignored)."""
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO_ROOT,
                             capture_output=True, check=True).stdout.decode()
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout
        names = [str(p.relative_to(REPO_ROOT)) for p in REPO_ROOT.rglob("*") if p.is_file()]
    for name in sorted(names):
        top = name.split("/", 1)[0]
        if top in ("labchain", "grading", "pyproject.toml", "README.md", "LICENSE") \
                and "__pycache__" not in name and (REPO_ROOT / name).is_file():
            yield Path(name)


def build_labchain_wheel(dest: Path, log: Log = print) -> Path:
    """``pip wheel`` of this checkout into ``dest`` (replaced only if its content changed)."""
    with tempfile.TemporaryDirectory(prefix="labchain-wheel-") as tmp:
        src, out = Path(tmp, "src"), Path(tmp, "out")
        for rel in _source_files():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / rel, src / rel)
        if not (src / "README.md").exists():  # pyproject names it as the long description
            (src / "README.md").write_text("LabChain\n")
        env = dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH)
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--quiet",
             "--no-deps", "--wheel-dir", str(out), str(src)],
            capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise ImageBuildError(f"building the labchain wheel failed:\n{result.stderr[-2000:]}")
        (wheel,) = out.glob("labchain-*.whl")
        changed = _replace_if_changed(wheel, dest)
        log(f"  {'built' if changed else 'unchanged:'} {wheel.name}")
        return dest / wheel.name


def _replace_if_changed(wheel: Path, dest: Path) -> bool:
    """Make ``wheel`` the only wheel in ``dest``, leaving an identical file untouched."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / wheel.name
    if target.exists() and target.read_bytes() == wheel.read_bytes():
        return False
    for old in dest.glob("*.whl"):
        old.unlink()
    shutil.copy2(wheel, target)
    return True


def prepare_context(kind: str, python_version: str, wheel: Path, log: Log = print) -> Path:
    """Fill ``docker/context/<kind>/``: Dockerfile, dependency wheels, labchain wheel, extras."""
    ctx = CONTEXT_DIR / kind
    ctx.mkdir(parents=True, exist_ok=True)
    for item in (DOCKER_DIR / kind).iterdir():
        shutil.copy2(item, ctx / item.name)
    download_dependencies(project_requirements(kind), ctx / "deps", python_version, log)
    _replace_if_changed(wheel, ctx / "labchain")
    if kind == "lab":
        labs = ctx / "labs"
        if labs.exists():
            shutil.rmtree(labs)
        with tempfile.TemporaryDirectory(prefix="labchain-release-") as tmp:
            shutil.copytree(student_release(REPO_ROOT / "labs", Path(tmp), log), labs)
    return ctx


def student_release(labs_dir: Path, workdir: Path, log: Log = print) -> Path:
    """The STUDENT versions of ``labs_dir`` (nbgrader's release: no solutions, no hidden tests,
    no translation catalogs), made in ``workdir`` by ``labchain-grade init``/``generate``; returns
    the release folder. The lab image ships these, never the instructor's sources (they hold the
    hidden tests). Run as a subprocess: grading sits above this layer (docs/ARCHITECTURE.md)."""
    course = workdir / "course"
    log(f"  student versions of {labs_dir} (labchain-grade generate)")
    for args in (["init", str(course), "--labs-dir", str(labs_dir)],
                 ["generate", "--course", str(course)]):
        proc = subprocess.run([sys.executable, "-m", "grading.cli", *args],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
            raise ImageBuildError(f"could not make the student versions of the labs for the lab "
                                  f"image (labchain-grade {args[0]}): {' / '.join(lines[-3:])}")
    release = course / "release"
    for summary in release.glob("*.json"):
        summary.unlink()                 # the step's summary, not a lab file
    return release


# --- docker build ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BuiltImage:
    tag: str
    image_id: str
    steps: int          # Dockerfile steps that can be cached (all but FROM and ARG)
    cached: int         # of which answered from the layer cache
    size: int           # bytes
    seconds: float


def docker_build(client, context: Path, tag: str, base_tag: str, no_cache: bool = False,
                 log: Log = print) -> BuiltImage:
    """Build ``context`` as ``tag`` with the classic builder, echoing its steps."""
    started = time.monotonic()
    steps = cached = 0
    image_id = None
    for chunk in client.api.build(path=str(context), tag=tag, buildargs={"BASE": base_tag},
                                  rm=True, forcerm=True, nocache=no_cache, decode=True):
        if "error" in chunk:
            raise ImageBuildError(f"docker build of {tag} failed: {chunk['error'].strip()}", tag)
        line = chunk.get("stream", "").rstrip()
        if line.startswith("Step "):
            instruction = line.split(" : ", 1)[-1].split(" ", 1)[0].upper()
            steps += instruction not in ("FROM", "ARG")   # these never hit or miss the cache
            log(f"  {line[:110]}")
        elif "Using cache" in line:
            cached += 1
        image_id = chunk.get("aux", {}).get("ID", image_id)
    image = client.images.get(tag)
    return BuiltImage(tag, image.id, steps, cached, image.attrs["Size"],
                      time.monotonic() - started)


def build_images(kinds: Iterable[str] = KINDS, base_image: str | None = None,
                 mirror: str | None = None, rebuild_base: bool = False, no_cache: bool = False,
                 log: Log = print) -> list[BuiltImage]:
    """Build the base (if needed) and the requested images; the thin API under the CLI."""
    import docker

    kinds = list(kinds)
    for kind in kinds:
        if kind not in KINDS:
            raise ImageBuildError(f"unknown image {kind!r}; choose from {', '.join(KINDS)}", kind)
    client = docker.from_env()
    total = 1 + len(kinds)
    base_tag = image_tag("base")
    log(f"[1/{total}] base image {base_tag}")
    build_base(base_tag, base_image, mirror, rebuild_base, log)
    python_version = base_python_version(client, base_tag)
    wheel = build_labchain_wheel(CONTEXT_DIR / "wheel", log)
    built = []
    for n, kind in enumerate(kinds, start=2):
        tag = image_tag(kind)
        log(f"[{n}/{total}] {tag}: wheelhouse for python {python_version}")
        ctx = prepare_context(kind, python_version, wheel, log)
        log(f"[{n}/{total}] {tag}: docker build")
        result = docker_build(client, ctx, tag, base_tag, no_cache, log)
        log(f"  {tag}: {result.size / 1e6:.0f} MB, {result.cached}/{result.steps} steps cached, "
            f"{result.seconds:.1f} s")
        built.append(result)
    return built


# --- CLI ---------------------------------------------------------------------------------

def register(subparsers) -> None:
    parser = subparsers.add_parser("images", help="build the container images (docker/)",
                                   description=__doc__.split("\n\n")[0].replace("``", ""))
    sub = parser.add_subparsers(dest="images_command", metavar="ACTION")
    build = sub.add_parser("build", help="build labchain/base, labchain/node and labchain/lab",
                           description="Build the images from a host-side wheelhouse; the "
                                       "builds themselves never reach the network.")
    build.add_argument("kinds", nargs="*", metavar="IMAGE", help="which images to build: node, lab (default: both)")
    build.add_argument("--base-image", help="use this image as the base instead of debootstrap "
                                            "(e.g. python:3.11-slim where a registry is reachable)")
    build.add_argument("--mirror", help="Debian mirror URL for debootstrap "
                                        "(default: the mirror apt on this host uses)")
    build.add_argument("--rebuild-base", action="store_true", help="rebuild the base even if cached")
    build.add_argument("--no-cache", action="store_true", help="ignore Docker's layer cache")
    build.set_defaults(func=_cmd_build)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _cmd_build(args: argparse.Namespace) -> int:
    started = time.monotonic()
    build_images(args.kinds or KINDS, args.base_image, args.mirror, args.rebuild_base, args.no_cache,
                 log=lambda line: print(line, flush=True))
    print(f"images built in {time.monotonic() - started:.0f} s")
    return 0
