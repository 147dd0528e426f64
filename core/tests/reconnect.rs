//! The reconnect state machine and connect-error classification against real
//! redis-servers, each started by its test on a free loopback port.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_layer_core::{
    AnyConnection, ConnectionConfig, ErrorCode, Event, LayerError, ManagedConnection, Topology,
};
use tokio::sync::mpsc;

/// Generous bound for anything that should happen promptly; a hang fails the test.
const PATIENCE: Duration = Duration::from_secs(5);

/// A redis-server child process, killed (and its directory removed) when dropped, so
/// a failed assertion leaves nothing running.
struct RedisServer {
    port: u16,
    args: Vec<String>,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    fn start(args: &[&str]) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "redis-layer-core-test-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        let mut server = Self {
            port,
            args: args.iter().map(|arg| arg.to_string()).collect(),
            dir,
            child: None,
        };
        server.restart();
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port and waits until it accepts connections.
    fn restart(&mut self) {
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is on PATH");
        let child = self.child.insert(child);
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("redis-server on port {port} exited: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A loopback port nothing listens on (at the time of asking).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Short backoff and long command timeout: a reconnect is quick, a hang is obvious.
fn config(url: String) -> ConnectionConfig {
    ConnectionConfig {
        url: Some(url),
        connect_timeout: Some(Duration::from_secs(2)),
        command_timeout: Some(Duration::from_secs(10)),
        reconnect_step: Duration::from_millis(10),
        reconnect_max: Duration::from_millis(50),
        ..ConnectionConfig::default()
    }
}

struct Events(mpsc::UnboundedReceiver<Event>);

impl Events {
    /// The next event `wanted` accepts, skipping others; fails after [`PATIENCE`].
    async fn next(&mut self, what: &str, wanted: impl Fn(&Event) -> bool) -> Event {
        tokio::time::timeout(PATIENCE, async {
            loop {
                match self.0.recv().await {
                    Some(event) if wanted(&event) => return event,
                    Some(_) => {}
                    None => panic!("the event sink was dropped while waiting for {what}"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {what} event"))
    }

    /// Every event delivered so far.
    fn drain(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.0.try_recv().ok()).collect()
    }
}

fn connection(config: ConnectionConfig) -> (ManagedConnection, Events) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let sink = Arc::new(move |event| {
        let _ = sender.send(event);
    });
    (ManagedConnection::new(config, sink, None), Events(receiver))
}

async fn ping(connection: &ManagedConnection) -> Result<String, LayerError> {
    connection
        .run(|mut c| async move { redis::cmd("PING").query_async(&mut c).await })
        .await
}

fn is_connected(reconnected: bool) -> impl Fn(&Event) -> bool {
    move |event| matches!(event, Event::Connected { reconnected: r, .. } if *r == reconnected)
}

fn is_disconnected(event: &Event) -> bool {
    matches!(event, Event::Disconnected { .. })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_fast_while_down_and_reconnects_when_the_server_returns() {
    let mut server = RedisServer::start(&[]);
    let (connection, mut events) = connection(config(server.url()));
    let (hooked, mut reconnects) = mpsc::unbounded_channel::<AnyConnection>();
    connection.set_reconnect_hook(Arc::new(move |c| {
        let _ = hooked.send(c);
    }));
    connection.connect().await.expect("connects");
    events.next("first Connected", is_connected(false)).await;
    assert_eq!(ping(&connection).await, Ok("PONG".to_string()));

    server.kill();
    // A command racing the disconnect fails with the socket, well before its timeout.
    let racing = tokio::time::timeout(PATIENCE, ping(&connection))
        .await
        .expect("a command on a dead socket settles");
    let code = racing.expect_err("no server to answer").code;
    assert!(
        matches!(code, ErrorCode::ConnectionLost | ErrorCode::NotConnected),
        "{code:?}"
    );
    events.next("Disconnected", is_disconnected).await;
    let started = Instant::now();
    let down = ping(&connection).await.expect_err("still down");
    assert_eq!(down.code, ErrorCode::NotConnected);
    assert!(started.elapsed() < Duration::from_millis(100));
    assert!(!connection.is_connected());

    let mut attempts = Vec::new();
    while attempts.len() < 2 {
        if let Event::ReconnectFailed { attempt, error, .. } = events
            .next("ReconnectFailed", |e| {
                matches!(e, Event::ReconnectFailed { .. })
            })
            .await
        {
            assert_eq!(error.code, ErrorCode::ConnectionRefused);
            attempts.push(attempt);
        }
    }
    assert_eq!(attempts, [1, 2]);
    assert!(reconnects.try_recv().is_err(), "no hook before a reconnect");

    server.restart();
    events.next("Connected again", is_connected(true)).await;
    assert_eq!(ping(&connection).await, Ok("PONG".to_string()));
    let mut restored = tokio::time::timeout(PATIENCE, reconnects.recv())
        .await
        .expect("the hook runs after the reconnect")
        .expect("the hook sender lives in the connection");
    let pong: String = redis::cmd("PING")
        .query_async(&mut restored)
        .await
        .expect("the hook gets the live connection");
    assert_eq!(pong, "PONG");
    connection.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_stops_reconnecting_and_connect_opens_again() {
    let mut server = RedisServer::start(&[]);
    let (connection, mut events) = connection(config(server.url()));
    connection.connect().await.expect("connects");
    server.kill();
    events.next("Disconnected", is_disconnected).await;
    connection.close();
    assert_eq!(
        ping(&connection).await.map_err(|e| e.code),
        Err(ErrorCode::Closed)
    );

    server.restart();
    // Several backoff periods: a reconnect loop still running would have reconnected.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late = events.drain();
    assert!(
        !late.iter().any(|e| matches!(e, Event::Connected { .. })),
        "{late:?}"
    );
    assert!(!connection.is_connected());
    assert_eq!(
        ping(&connection).await.map_err(|e| e.code),
        Err(ErrorCode::Closed)
    );

    connection.connect().await.expect("connects after close");
    events.next("Connected", is_connected(false)).await;
    assert_eq!(ping(&connection).await, Ok("PONG".to_string()));
    connection.close();
    assert_eq!(
        ping(&connection).await.map_err(|e| e.code),
        Err(ErrorCode::Closed)
    );
}

async fn connect_error(config: ConnectionConfig) -> LayerError {
    let (connection, _events) = connection(config);
    let error = connection.connect().await.expect_err("connect() fails");
    assert!(!connection.is_connected());
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_an_authentication_failure() {
    let server = RedisServer::start(&["--requirepass", "right-pw"]);
    let with = |username: Option<&str>, password: Option<&str>| ConnectionConfig {
        username: username.map(str::to_owned),
        password: password.map(str::to_owned),
        ..config(server.url())
    };

    let admin = connection(with(None, Some("right-pw"))).0;
    admin.connect().await.expect("the right password connects");
    admin
        .run(|mut c| async move {
            redis::cmd("ACL")
                .arg(&["SETUSER", "app", "on", ">app-pw", "~*", "+@all"])
                .query_async::<()>(&mut c)
                .await
        })
        .await
        .expect("creates an ACL user");

    for (case, username, password) in [
        ("wrong password", None, Some("wrong-pw")),
        ("no password", None, None),
        ("ACL user, wrong password", Some("app"), Some("wrong-pw")),
        ("unknown ACL user", Some("nobody"), Some("app-pw")),
    ] {
        let error = connect_error(with(username, password)).await;
        assert_eq!(error.code, ErrorCode::AuthFailed, "{case}: {error}");
        assert!(!error.message.contains("wrong-pw"), "{case}: {error}");
    }

    let app = connection(with(Some("app"), Some("app-pw"))).0;
    app.connect().await.expect("the ACL user connects");
    assert_eq!(ping(&app).await, Ok("PONG".to_string()));
    app.close();
    admin.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_seed_refusing_the_password_is_an_authentication_failure() {
    let server = RedisServer::start(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--requirepass",
        "right-pw",
    ]);
    let error = connect_error(ConnectionConfig {
        topology: Topology::Cluster {
            nodes: vec![server.url()],
        },
        password: Some("wrong-pw".into()),
        ..config(server.url())
    })
    .await;
    assert_eq!(error.code, ErrorCode::AuthFailed, "{error}");
    assert!(!error.message.contains("wrong-pw"), "{error}");
}

#[tokio::test]
async fn nothing_listening_is_a_refused_connection() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let single = connect_error(config(url.clone())).await;
    assert_eq!(single.code, ErrorCode::ConnectionRefused, "{single}");
    let cluster = connect_error(ConnectionConfig {
        topology: Topology::Cluster { nodes: vec![url] },
        ..config(String::new())
    })
    .await;
    assert_eq!(cluster.code, ErrorCode::ConnectionRefused, "{cluster}");
}
