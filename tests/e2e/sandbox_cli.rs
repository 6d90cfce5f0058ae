//! `shardgate sandbox` as a user runs it: it starts servers and the proxy, serves the sample
//! data, and on SIGTERM stops everything it started.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Pids of mariadbd processes whose command line mentions `needle`.
fn mariadbd_pids_mentioning(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'));
        if cmdline.contains("mariadbd") && cmdline.contains(needle) && !zombie {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn sandbox_serves_sample_data_and_sigterm_stops_everything() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .args([
            "sandbox",
            "--shards",
            "2",
            "--replicas",
            "1",
            "--users",
            "200",
            "--port",
        ])
        .arg(port.to_string())
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("Ctrl-C") {
            break;
        }
    }
    assert!(
        printed.contains(&format!("mariadb -h 127.0.0.1 -P {port} -u app -papp app")),
        "{printed}"
    );
    assert!(dir.path().join("shardgate.toml").exists());

    let out = Command::new("mariadb")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "-u",
            "app",
            "-papp",
            "app",
            "--batch",
            "-N",
            "-e",
        ])
        .arg(
            "SELECT email FROM users WHERE id = 17; SELECT COUNT(*) FROM orders WHERE user_id = 17",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("user17@example.com\n"), "{stdout}");

    let needle = dir.path().to_string_lossy().into_owned();
    assert_eq!(
        mariadbd_pids_mentioning(&needle).len(),
        4,
        "2 primaries + 2 replicas running"
    );
    // SIGTERM, as systemd or `kill` sends it.
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success(),
                "shardgate sandbox exits cleanly: {status}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "shardgate sandbox did not stop within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !mariadbd_pids_mentioning(&needle).is_empty() {
        assert!(
            Instant::now() < deadline,
            "servers left running: {:?}",
            mariadbd_pids_mentioning(&needle)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "the proxy port is free again"
    );
}
