import os
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


@pytest.fixture(scope="session")
def vangnet_bin() -> str:
    path = os.environ.get("VANGNET_BIN", os.path.join(REPO, ".build", "debug", "vangnet"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"the vangnet executable is not at {path}: build it first (swift build) or set VANGNET_BIN")
    return path


def serve(vangnet_bin, *init_options):
    """A real `vangnet serve` on a free loopback port, with a development PKI and keys."""
    with tempfile.TemporaryDirectory() as tmp:
        dev = os.path.join(tmp, "dev")
        subprocess.run([vangnet_bin, "config", "init", "--dir", dev, "--port", "0", *init_options], check=True,
                       capture_output=True)
        server = subprocess.Popen([vangnet_bin, "serve", "--config", os.path.join(dev, "vangnet.json")],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = server.stdout.readline()
        if "127.0.0.1:" not in line:
            server.kill()
            pytest.fail("vangnet serve did not start")
        port = int(line.split("127.0.0.1:")[1].split()[0])
        yield {"dir": dev, "url": f"https://127.0.0.1:{port}", "bin": vangnet_bin, "tmp": tmp}
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="session")
def gateway(vangnet_bin):
    yield from serve(vangnet_bin)


@pytest.fixture(scope="session")
def vectors_gateway(vangnet_bin):
    """A gateway set up as docs/envelope.md says to answer the test vectors: `vangnet config init --test-vectors`."""
    yield from serve(vangnet_bin, "--test-vectors", os.path.join(REPO, "docs", "test-vectors", "envelope-v1.json"))
