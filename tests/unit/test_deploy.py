"""Deployment over SSH: the sshd match block's effective settings, and the login mapping."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from hwb_tui.core import access

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)


@pytest.mark.skipif(SSHD is None, reason="OpenSSH server (sshd) is not installed")
def test_operators_get_the_console_and_nothing_else(tmp_path: Path) -> None:
    if not Path("/run/sshd").is_dir():  # sshd insists on its privilege-separation directory
        if os.geteuid() != 0:
            pytest.skip("sshd needs /run/sshd, which only root can create")
        Path("/run/sshd").mkdir(mode=0o755)
    host_key = tmp_path / "host_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)],
                   check=True)
    snippet = (DEPLOY / "sshd_config.d" / "hwb-tui.conf").read_text()
    # Evaluate the block for a named test user: `Match Group` needs a real group database entry.
    snippet = snippet.replace("Match Group hwb-operators", "Match User hwb-test-operator")
    config = tmp_path / "sshd_config"
    config.write_text(f"HostKey {host_key}\nPidFile {tmp_path / 'sshd.pid'}\nUsePAM no\n"
                      f"{snippet}")
    assert SSHD is not None
    subprocess.run([SSHD, "-t", "-f", str(config)], check=True)

    def effective(user: str) -> dict[str, str]:
        out = subprocess.run(
            [SSHD, "-T", "-f", str(config), "-C", f"user={user},host=client,addr=127.0.0.1"],
            check=True, capture_output=True, text=True).stdout
        return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)

    op = effective("hwb-test-operator")
    assert op["forcecommand"] == "/usr/bin/sudo -n -u hwb-svc /opt/hwb-tui/venv/bin/hwb-tui"
    assert op["authenticationmethods"] == "publickey"
    assert op["passwordauthentication"] == "no"
    assert op["kbdinteractiveauthentication"] == "no"
    assert op["permittty"] == "yes"
    for forwarding in ("allowtcpforwarding", "allowstreamlocalforwarding", "allowagentforwarding",
                       "x11forwarding", "permittunnel", "permituserrc"):
        assert op[forwarding] == "no", forwarding
    assert op["permitopen"] == "none" and op["permitlisten"] == "none"
    # someone outside the match is untouched by it (the block does not leak)
    other = effective("someone-else")
    assert other.get("forcecommand", "none") == "none"
    assert other["allowtcpforwarding"] == "yes"


@pytest.mark.skipif(shutil.which("visudo") is None, reason="sudo's visudo is not installed")
def test_sudoers_file_parses() -> None:
    subprocess.run(["visudo", "-cf", str(DEPLOY / "sudoers.d" / "hwb-tui")], check=True,
                   capture_output=True)


def test_login_is_the_os_account_not_spoofable_env(monkeypatch: pytest.MonkeyPatch) -> None:
    me = pwd.getpwuid(os.getuid()).pw_name
    monkeypatch.delenv("HWB_OPERATOR", raising=False)
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.delenv("SUDO_UID", raising=False)
    monkeypatch.setenv("LOGNAME", "mallory")
    monkeypatch.setenv("USER", "mallory")
    assert access.current_login() == me


def test_sudo_user_is_trusted_only_when_sudo_changed_the_uid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HWB_OPERATOR", raising=False)
    monkeypatch.setattr(access.os, "getuid", lambda: 999)  # the service account
    monkeypatch.setattr(access.pwd, "getpwuid", lambda uid: pwd.struct_passwd(
        ("hwb-svc", "x", uid, uid, "", "/", "/bin/sh")))
    monkeypatch.setenv("SUDO_USER", "alice")
    monkeypatch.setenv("SUDO_UID", "1001")
    assert access.current_login() == "alice"
    # a user who sets SUDO_* themselves, without sudo, is still themselves
    monkeypatch.setenv("SUDO_UID", "999")
    assert access.current_login() == "hwb-svc"


def test_only_root_may_name_another_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("HWB_OPERATOR", "admin")
    monkeypatch.setattr(access.os, "getuid", lambda: 1000)
    monkeypatch.setattr(access.pwd, "getpwuid", lambda uid: pwd.struct_passwd(
        ("alice", "x", uid, uid, "", "/", "/bin/sh")))
    assert access.current_login() == "alice"
    monkeypatch.setattr(access.os, "getuid", lambda: 0)
    assert access.current_login() == "admin"


# ---- the schedule: systemd units -------------------------------------------------------------

UNITS = DEPLOY / "systemd"
SERVICES = {"hwb-provision.service": ["provision", "--inbox"],
            "hwb-housekeeping.service": ["housekeeping"]}
BINARY = "/opt/hwb-tui/venv/bin/hwb-tui"  # where docs/deploy-ssh.md installs it
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def _unit(name: str) -> dict[str, dict[str, str]]:
    """A unit file's sections and keys (each key once in ours)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in (UNITS / name).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, value = line.split("=", 1)
        assert key not in current, f"{name}: {key} twice"
        current[key] = value
    return sections


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_job_runs_once_as_the_service_account_and_fails_on_a_non_zero_exit(
        service: str) -> None:
    from hwb_tui.cli import build_parser

    unit = _unit(service)["Service"]
    assert unit["Type"] == "oneshot"  # the unit is failed when the command exits non-zero...
    assert "SuccessExitStatus" not in unit and not unit["ExecStart"].startswith("-")  # ...any
    assert (unit["User"], unit["Group"]) == ("hwb-svc", "hwb-svc")
    assert unit["StandardOutput"] == unit["StandardError"] == "journal"
    binary, *args = unit["ExecStart"].split()
    assert binary == BINARY and args == SERVICES[service]
    build_parser().parse_args(args)  # a command and options hwb-tui really has
    timer = _unit(service.replace(".service", ".timer"))
    assert timer["Timer"]["Unit"] == service
    assert timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.skipif(SYSTEMD_ANALYZE is None,
                    reason="systemd is not installed (systemd-analyze is missing)")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` checks every key and value; it also wants ExecStart's binary to
    exist, so the copies checked here point at this checkout's hwb-tui (or any executable)."""
    here = shutil.which("hwb-tui") or shutil.which("true")
    assert here is not None and SYSTEMD_ANALYZE is not None
    copies = []
    for path in sorted(UNITS.iterdir()):
        copy = tmp_path / path.name
        copy.write_text(path.read_text().replace(BINARY, here))
        copies.append(str(copy))
    assert len(copies) == 4
    done = subprocess.run([SYSTEMD_ANALYZE, "verify", *copies], capture_output=True, text=True,
                          env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"})
    # a warning (an unknown key, a value ignored) is a mistake in our files too
    assert (done.returncode, done.stderr.strip(), done.stdout.strip()) == (0, "", "")
