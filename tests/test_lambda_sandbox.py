"""Lambda's filesystem view: each instance has a private /tmp of its
ephemeral storage size and sees its layers merged at /opt, as on AWS.

nimbus builds that view in a mount namespace of the instance's own (as root,
or in a user namespace otherwise); where the kernel refuses both, the
functions run with the host's view and these tests are skipped.
"""
import os
import subprocess
import uuid

import pytest

from test_lambda_invoke import ROLE, invoke, make_fn, zip_of


def _namespaces_work():
    cmd = ["unshare", "-m", "--propagation", "private", "true"] if os.geteuid() == 0 \
        else ["unshare", "-Urm", "true"]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = pytest.mark.skipif(not _namespaces_work(),
                                reason="this kernel gives no mount namespace")

LOOK = '''
import os
def handler(event, context):
    if event.get("write"):
        with open("/tmp/" + event["write"], "w") as f:
            f.write(event["write"])
    st = os.statvfs("/tmp")
    opt = {}
    for root, dirs, files in os.walk("/opt"):
        for f in files:
            p = os.path.join(root, f)
            opt[p] = open(p).read()
    return {"tmp_bytes": st.f_blocks * st.f_frsize,
            "tmp": sorted(n for n in os.listdir("/tmp") if not n.startswith("nimbus")),
            "opt": opt, "tmpdir": os.environ.get("TMPDIR"), "uid": os.getuid(),
            "pid": os.getpid()}
'''


@pytest.fixture
def lmb(client):
    return client("lambda")


def test_private_tmp_sized_by_ephemeral_storage(lmb):
    make_fn(lmb, "sbx-tmp-a", {"app.py": LOOK})
    make_fn(lmb, "sbx-tmp-b", {"app.py": LOOK}, EphemeralStorage={"Size": 1024})
    mark = "from-a-" + uuid.uuid4().hex  # unique: the host's /tmp is shared
    _, a = invoke(lmb, "sbx-tmp-a", {"write": mark})
    assert a["tmp_bytes"] == 512 << 20
    assert a["tmp"] == [mark]
    assert a["tmpdir"] == "/tmp"
    assert a["uid"] == os.getuid()
    # The host's /tmp never sees it; another function's /tmp neither.
    assert not os.path.exists("/tmp/" + mark)
    _, b = invoke(lmb, "sbx-tmp-b", {"write": "from-b"})
    assert b["tmp_bytes"] == 1024 << 20
    assert b["tmp"] == ["from-b"]
    # A warm instance keeps its /tmp between invocations, as on AWS.
    _, a2 = invoke(lmb, "sbx-tmp-a", {})
    assert a2["pid"] == a["pid"] and a2["tmp"] == [mark]
    # A fresh instance (new configuration) starts with an empty /tmp.
    lmb.update_function_configuration(FunctionName="sbx-tmp-a", Timeout=5)
    lmb.get_waiter("function_updated_v2").wait(FunctionName="sbx-tmp-a")
    _, a3 = invoke(lmb, "sbx-tmp-a", {})
    assert a3["pid"] != a["pid"] and a3["tmp"] == []


def test_opt_holds_the_layers_merged_in_order(lmb):
    l1 = lmb.publish_layer_version(
        LayerName="sbx-one", Content={"ZipFile": zip_of({"bin/tool": "one", "lib/a.txt": "a"})})
    l2 = lmb.publish_layer_version(
        LayerName="sbx-two", Content={"ZipFile": zip_of({"bin/tool": "two", "etc/b.txt": "b"})})
    make_fn(lmb, "sbx-layers", {"app.py": LOOK},
            Layers=[l1["LayerVersionArn"], l2["LayerVersionArn"]])
    _, r = invoke(lmb, "sbx-layers", {})
    assert r["opt"] == {"/opt/bin/tool": "two", "/opt/lib/a.txt": "a", "/opt/etc/b.txt": "b"}
    make_fn(lmb, "sbx-one-layer", {"app.py": LOOK}, Layers=[l1["LayerVersionArn"]])
    _, r = invoke(lmb, "sbx-one-layer", {})
    assert r["opt"] == {"/opt/bin/tool": "one", "/opt/lib/a.txt": "a"}
    # Without layers /opt is empty: the host's /opt is not the function's.
    make_fn(lmb, "sbx-no-layers", {"app.py": LOOK})
    _, r = invoke(lmb, "sbx-no-layers", {})
    assert r["opt"] == {}


def test_opt_is_read_only(lmb):
    code = '''
import errno
def handler(event, context):
    try:
        open("/opt/new", "w")
        return "wrote"
    except OSError as e:
        return errno.errorcode[e.errno]
'''
    make_fn(lmb, "sbx-ro", {"app.py": code})
    _, r = invoke(lmb, "sbx-ro", {})
    assert r == "EROFS"


def test_interpreter_installed_under_tmp_stays_visible(nimbus_fresh, tmp_path, monkeypatch):
    # An interpreter under the host's /tmp (a venv, an unpacked JDK) must
    # not vanish behind the function's private /tmp.
    bindir = tmp_path / "py" / "bin"
    bindir.mkdir(parents=True)
    wrapper = bindir / "python3"
    wrapper.write_text("#!/bin/sh\nexport VIA_WRAPPER=%s\nexec /usr/bin/python3 \"$@\"\n"
                       % bindir)
    wrapper.chmod(0o755)
    monkeypatch.setenv("NIMBUS_LAMBDA_PYTHON", str(wrapper))
    lmb = nimbus_fresh().client("lambda")
    make_fn(lmb, "sbx-interp", {"app.py": "import os\ndef handler(e, c):\n"
                                          "    return os.environ.get('VIA_WRAPPER')\n"})
    r, out = invoke(lmb, "sbx-interp", {})
    assert "FunctionError" not in r, out
    assert out == str(bindir)
