"""Initialization hooks (--init-dir): .sh and .py scripts that run once
nimbus accepts requests and before it prints "Ready.", as LocalStack's
ready.d hooks do; their state at /_nimbus/init and /_localstack/init."""
import json
import sys
import time
import urllib.error
import urllib.request

import pytest

# Each script appends its name to order.log and may call nimbus with boto3,
# finding it through AWS_ENDPOINT_URL (set by nimbus).
SEED = '''
import boto3, os
with open(os.environ["ORDER_LOG"], "a") as f:
    f.write("%s\\n")
c = boto3.client("%s", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
%s
'''


def status(n, path="/_nimbus/init"):
    with urllib.request.urlopen(n.endpoint + path, timeout=5) as r:
        return json.loads(r.read())


def wait_ready(n):
    deadline = time.time() + 30
    while time.time() < deadline:
        if status(n)["completed"]["READY"]:
            return
        time.sleep(0.05)
    raise AssertionError("init scripts did not finish: %s" % n.output())


def write(path, text, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def test_ready_scripts_run_in_order_before_ready(nimbus_fresh, tmp_path, monkeypatch):
    init = tmp_path / "init"
    order = tmp_path / "order.log"
    monkeypatch.setenv("ORDER_LOG", str(order))
    py = sys.executable
    # An executable shell script with a shebang, run as itself.
    write(init / "ready.d" / "01-queue.sh",
          "#!/bin/sh\nset -e\n%s - <<'EOF'\n%s\nEOF\necho seeded-queue\n"
          % (py, SEED % ("01-queue.sh", "sqs", 'c.create_queue(QueueName="seeded")')), 0o755)
    # A failing script: logged as ERROR, the next ones still run.
    write(init / "ready.d" / "02-fails.sh", "echo 02-fails.sh >> \"$ORDER_LOG\"\nexit 3\n")
    # Not a hook: ignored.
    write(init / "ready.d" / "03-notes.txt", "not a script\n")
    # A subdirectory runs after its parent's own files, depth first.
    write(init / "ready.d" / "00-sub" / "10-table.py",
          SEED % ("00-sub/10-table.py", "dynamodb",
                  'c.create_table(TableName="seeded", BillingMode="PAY_PER_REQUEST",\n'
                  '    AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],\n'
                  '    KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])'))
    # boot.d is not nimbus's: never run.
    write(init / "boot.d" / "x.sh", "echo boot >> \"$ORDER_LOG\"\n")

    n = nimbus_fresh(extra=["--init-dir", str(init)])
    wait_ready(n)
    assert order.read_text().split() == ["01-queue.sh", "02-fails.sh", "00-sub/10-table.py"]
    st = status(n)
    assert st["completed"] == {"BOOT": True, "START": True, "READY": True, "SHUTDOWN": False}
    assert [(s["stage"], s["name"], s["state"]) for s in st["scripts"]] == [
        ("READY", "01-queue.sh", "SUCCESSFUL"), ("READY", "02-fails.sh", "ERROR"),
        ("READY", "10-table.py", "SUCCESSFUL")]
    assert status(n, "/_localstack/init") == st
    ready = status(n, "/_localstack/init/ready")
    assert ready["completed"] is True and len(ready["scripts"]) == 3
    with pytest.raises(urllib.error.HTTPError) as e:
        status(n, "/_localstack/init/nosuchstage")
    assert e.value.code == 404

    # What the scripts made is there, and "Ready." came after them.
    assert n.client("sqs").get_queue_url(QueueName="seeded")["QueueUrl"].endswith("/seeded")
    assert n.client("dynamodb").describe_table(TableName="seeded")["Table"]["TableName"] == "seeded"
    out = n.output()
    assert "Ready." in out and out.index("seeded-queue") < out.index("Ready.")
    assert "02-fails.sh exited with status 3" in out


def test_a_directory_without_ready_d_is_the_ready_stage(nimbus_fresh, tmp_path, monkeypatch):
    order = tmp_path / "order.log"
    monkeypatch.setenv("ORDER_LOG", str(order))
    write(tmp_path / "hooks" / "a.sh", "echo a.sh >> \"$ORDER_LOG\"\n"
                                       "echo \"$AWS_ENDPOINT_URL\" >> \"$ORDER_LOG\"\n")
    n = nimbus_fresh(extra=["--init-dir", str(tmp_path / "hooks")])
    wait_ready(n)
    assert order.read_text().split() == ["a.sh", n.endpoint]


def test_without_hooks_ready_is_complete(nimbus_fresh):
    n = nimbus_fresh()
    assert status(n) == {"completed": {"BOOT": True, "START": True, "READY": True,
                                       "SHUTDOWN": False}, "scripts": []}


def test_a_missing_init_dir_is_refused(nimbus_fresh, tmp_path):
    with pytest.raises(RuntimeError) as e:
        nimbus_fresh(extra=["--init-dir", str(tmp_path / "absent")])
    assert "cannot read the init directory" in str(e.value)


def test_shutdown_stops_a_running_script(nimbus_fresh, tmp_path):
    write(tmp_path / "hooks" / "slow.sh", "sleep 60\n")
    n = nimbus_fresh(extra=["--init-dir", str(tmp_path / "hooks")])
    deadline = time.time() + 10
    while status(n)["scripts"][0]["state"] != "RUNNING":
        assert time.time() < deadline
        time.sleep(0.05)
    assert status(n)["completed"]["READY"] is False
    t0 = time.time()
    assert n.stop() == 0
    assert time.time() - t0 < 5
