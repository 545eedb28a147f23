//! torchrun's rendezvous against PyTorch itself: the store client speaks to torch's own `TCPStore`
//! server, and processes started by the real `torchrun` share rank 0's bytes — through the store
//! torchrun's agent serves, and through the one rank 0 serves when the agent does not share its
//! own. They need PyTorch, so they run when asked:
//!
//! ```sh
//! bash scripts/reference/setup-torch.sh
//! VIDEOBERT_TORCH_PYTHON=.venv-torch/bin/python cargo test --release -p videobert-core --test torch_store -- --ignored --skip torchrun_worker
//! ```

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use videobert_core::distributed::launch;
use videobert_core::distributed::store::{Rendezvous, StoreClient};

const ASK: &str = "needs PyTorch: VIDEOBERT_TORCH_PYTHON=.venv-torch/bin/python cargo test --test torch_store -- --ignored --skip torchrun_worker";

fn python() -> PathBuf {
    let p = std::env::var("VIDEOBERT_TORCH_PYTHON").expect("set VIDEOBERT_TORCH_PYTHON to a Python with torch (bash scripts/reference/setup-torch.sh)");
    let p = PathBuf::from(p);
    if p.is_absolute() {
        p
    } else {
        // cargo runs tests in the crate's directory; the path is the repository root's.
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(p)
    }
}

#[test]
#[ignore = "needs PyTorch (see the file's comment)"]
fn the_client_speaks_to_torchs_own_tcp_store() {
    let script = r#"
import datetime, sys, torch.distributed as dist
s = dist.TCPStore("127.0.0.1", 0, None, True, timeout=datetime.timedelta(seconds=30), wait_for_workers=False)
s.set("from-torch", b"\x00\x01torch")
print(s.port, flush=True)
print("got", s.get("from-rust").hex(), flush=True)
"#;
    let mut child = Command::new(python()).args(["-c", script]).stdout(Stdio::piped()).spawn().expect(ASK);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("torch printed {line:?}"));
    let mut c = StoreClient::connect("127.0.0.1", port, Duration::from_secs(20)).unwrap();
    // torch's Python client writes key "k" as "/k".
    assert_eq!(c.get("/from-torch").unwrap(), b"\x00\x01torch");
    assert!(!c.check(&["/from-rust"]).unwrap());
    c.set("/from-rust", &[0xde, 0xad, 0, 0xbe, 0xef]).unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "got dead00beef");
    assert!(child.wait().unwrap().success());
}

/// A process torchrun starts: prints the bytes rank 0 shared (rank 0 makes them from its pid).
#[test]
#[ignore = "a worker process: run by processes_torchrun_starts_share_rank_0s_bytes"]
fn torchrun_worker() {
    let l = launch::from_env().unwrap().expect("started by torchrun");
    assert_eq!(l.launcher, launch::Launcher::Torchrun);
    let r = Rendezvous::from_env(|k| std::env::var(k).ok()).unwrap().expect("torchrun sets MASTER_ADDR and MASTER_PORT");
    let shared = r.share(l.rank, l.world_size, "test-id", Duration::from_secs(30), || Ok(format!("pid-{}", std::process::id()).into_bytes())).unwrap();
    let mut so = std::io::stdout().lock();
    writeln!(so, "\nWORKER rank={} of={} agent={} shared={}", l.rank, l.world_size, r.agent_serves, String::from_utf8(shared).unwrap()).unwrap();
}

/// torchrun with `args` starting `per_node` workers, one command per entry of `nodes` (its extra
/// environment), all at once as on so many machines; the workers' lines, sorted.
fn torchrun(nodes: &[&[(&str, &str)]], args: &[&str], per_node: usize) -> Vec<String> {
    let torchrun = python().with_file_name("torchrun");
    let me = std::env::current_exe().unwrap();
    let children: Vec<_> = nodes
        .iter()
        .map(|extra_env| {
            let mut cmd = Command::new(&torchrun);
            cmd.args(args).args(["--nproc-per-node", &per_node.to_string(), "--no-python"]).arg(&me);
            cmd.args(["--ignored", "--exact", "torchrun_worker", "--nocapture", "--test-threads", "1"]);
            cmd.envs(extra_env.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped());
            cmd.spawn().expect(ASK)
        })
        .collect();
    let mut lines = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "torchrun failed: {}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
        lines.extend(stdout.lines().filter(|l| l.starts_with("WORKER ")).map(str::to_string));
    }
    lines.sort();
    lines
}

/// `world` workers, ranks 0 to world − 1, all holding rank 0's bytes.
fn assert_shared(lines: &[String], world: usize, agent: bool) {
    assert_eq!(lines.len(), world, "{lines:?}");
    let shared: Vec<&str> = lines.iter().map(|l| l.rsplit("shared=").next().unwrap()).collect();
    assert!(shared[0].starts_with("pid-") && shared.iter().all(|s| *s == shared[0]), "{lines:?}");
    for (rank, l) in lines.iter().enumerate() {
        assert!(l.starts_with(&format!("WORKER rank={rank} of={world} agent={agent} ")), "{l}");
    }
}

#[test]
#[ignore = "needs PyTorch (see the file's comment)"]
fn processes_torchrun_starts_share_rank_0s_bytes() {
    // torchrun's default: its agent serves the store at MASTER_ADDR:MASTER_PORT.
    assert_shared(&torchrun(&[&[]], &["--standalone"], 3), 3, true);
    // The agent keeps its store to itself: rank 0 serves one at MASTER_PORT.
    assert_shared(&torchrun(&[&[("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "1")]], &["--standalone"], 3), 3, false);
    // Two machines' worth: two torchrun commands × 2 workers meeting at one c10d rendezvous endpoint.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("127.0.0.1:{port}");
    let lines = torchrun(&[&[], &[]], &["--nnodes", "2", "--rdzv-backend", "c10d", "--rdzv-endpoint", &endpoint], 2);
    assert_shared(&lines, 4, true);
}
