"""Deployment over SSH: the sshd match block's effective settings, and the login mapping."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
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


def _accounts(monkeypatch: pytest.MonkeyPatch, uid: int, service: str,
              accounts: dict[str, int]) -> None:
    """The process runs as `uid`; `accounts` is the passwd database; `service` is configured."""
    by_uid = {v: k for k, v in accounts.items()}

    def getpwuid(n: int) -> pwd.struct_passwd:
        if n not in by_uid:
            raise KeyError(n)
        return pwd.struct_passwd((by_uid[n], "x", n, n, "", "/", "/bin/sh"))

    def getpwnam(name: str) -> pwd.struct_passwd:
        if name not in accounts:
            raise KeyError(name)
        return getpwuid(accounts[name])

    monkeypatch.delenv("HWB_OPERATOR", raising=False)
    monkeypatch.setattr(access.os, "getuid", lambda: uid)
    monkeypatch.setattr(access.pwd, "getpwuid", getpwuid)
    monkeypatch.setattr(access.pwd, "getpwnam", getpwnam)
    monkeypatch.setattr(access, "service_account", lambda: service)


ACCOUNTS = {"root": 0, "hwb-svc": 999, "alice": 1001, "bob": 1002, "nobody": 65534}


def test_sudo_user_is_believed_only_for_the_service_account_with_a_matching_uid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _accounts(monkeypatch, 999, "hwb-svc", ACCOUNTS)
    monkeypatch.setenv("SUDO_USER", "alice")
    monkeypatch.setenv("SUDO_UID", "1001")
    assert access.current_login() == "alice"
    # SUDO_UID not alice's uid: not what sudo would set, so not believed
    monkeypatch.setenv("SUDO_UID", "1002")
    assert access.current_login() == "hwb-svc"
    monkeypatch.setenv("SUDO_UID", "1001x")
    assert access.current_login() == "hwb-svc"
    # a SUDO_USER with no account
    monkeypatch.setenv("SUDO_USER", "mallory")
    monkeypatch.setenv("SUDO_UID", "1001")
    assert access.current_login() == "hwb-svc"


def test_sudo_set_by_hand_as_another_uid_is_not_believed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: as uid nobody, `SUDO_USER=root SUDO_UID=0 hwb-tui operators list` was let in."""
    _accounts(monkeypatch, 65534, "hwb-svc", ACCOUNTS)
    monkeypatch.setenv("SUDO_USER", "root")
    monkeypatch.setenv("SUDO_UID", "0")
    assert access.current_login() == "nobody"
    # another service account configured: hwb-svc's SUDO_USER is no longer believed
    _accounts(monkeypatch, 999, "other-svc", ACCOUNTS)
    monkeypatch.setenv("SUDO_USER", "alice")
    monkeypatch.setenv("SUDO_UID", "1001")
    assert access.current_login() == "hwb-svc"


def test_a_uid_without_an_account_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    """Issue 11: a uid with no passwd entry claiming LOGNAME=root was let in."""
    from hwb_tui.cli import main
    from hwb_tui.core.errors import UnknownAccount

    _accounts(monkeypatch, 54321, "hwb-svc", ACCOUNTS)
    monkeypatch.setenv("LOGNAME", "root")
    monkeypatch.setenv("USER", "root")
    monkeypatch.setenv("SUDO_USER", "root")
    monkeypatch.setenv("SUDO_UID", "0")
    with pytest.raises(UnknownAccount):
        access.current_login()
    monkeypatch.setenv("HWB_DATABASE_URL", f"sqlite:///{tmp_path / 'hwb.db'}")
    monkeypatch.delenv("HWB_LANG", raising=False)
    code = main(["operators", "list"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "54321" in err and "Traceback" not in err, err


def _reachable(path: Path) -> bool:
    """Whether any user may run `path`: every folder on the way searchable by others."""
    real = path.resolve()
    return all(p.stat().st_mode & 0o001 for p in real.parents) and bool(
        real.stat().st_mode & 0o001)


def _interpreter() -> str | None:
    """A Python of this version that another uid may run (a pyenv under /root is not)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (Path(sys.executable), Path("/usr/bin") / version,
                      Path("/usr/local/bin") / version):
        if candidate.exists() and _reachable(candidate):
            return str(candidate)
    return None


def _as(uid: int, code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -c code` as the real uid `uid` (root only can do this)."""
    import sysconfig

    interpreter = _interpreter()
    assert interpreter is not None
    root = Path(__file__).resolve().parents[2]
    path = os.pathsep.join([str(root), sysconfig.get_paths()["purelib"],
                            sysconfig.get_paths()["platlib"]])
    full = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": path, **env}
    return subprocess.run([interpreter, "-c", code], capture_output=True, text=True,
                          env=full, cwd="/", timeout=60,
                          preexec_fn=lambda: (os.setgid(65534), os.setuid(uid)))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a child as another uid")
@pytest.mark.skipif(_interpreter() is None, reason="no Python that another uid may run")
def test_the_sudo_rules_as_real_processes_of_other_uids() -> None:
    """Real processes, SUDO_* set by hand: only the configured service account (named in a
    root-owned config file) has SUDO_USER believed, and only with the matching uid."""
    import tempfile

    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        Path(folder).chmod(0o755)  # the child, as nobody, must reach the config file
        _sudo_rules(Path(folder) / "config.toml")


def _sudo_rules(cfg: Path) -> None:
    login = "from hwb_tui.core.access import current_login; print(current_login())"
    cfg.write_text('service_account = "nobody"\n')
    cfg.chmod(0o644)
    claim = {"SUDO_USER": "root", "SUDO_UID": "0", "LOGNAME": "root", "USER": "root"}
    # not configured as the service account: still nobody
    done = _as(65534, login, claim)
    assert done.stdout.strip() == "nobody", done.stderr
    # configured, and SUDO_UID is root's: believed (this is what sudo would have set)
    done = _as(65534, login, {**claim, "HWB_CONFIG": str(cfg)})
    assert done.stdout.strip() == "root", done.stderr
    # configured, but SUDO_UID is not SUDO_USER's uid
    done = _as(65534, login, {**claim, "SUDO_UID": "1", "HWB_CONFIG": str(cfg)})
    assert done.stdout.strip() == "nobody", done.stderr
    # a config file the caller could have written is not believed about the service account
    os.chown(cfg, 65534, 65534)
    done = _as(65534, login, {**claim, "HWB_CONFIG": str(cfg)})
    assert done.stdout.strip() == "nobody", done.stderr
    # a uid with no account: one line, no traceback, exit 1
    done = _as(54321, "from hwb_tui.cli import main; raise SystemExit(main(['operators', "
               "'list']))", {**claim, "HWB_DATABASE_URL": "sqlite:////nonexistent/x.db"})
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "54321" in done.stderr, done.stderr


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
