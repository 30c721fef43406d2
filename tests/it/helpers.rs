//! `spawn_app()` and typed helpers: a real node on a random port, a simulated provider (the
//! dev phone and its fake REST API) and a websocket page client. The provider is Twilio, or
//! the one `TANDEM_TEST_PROVIDER` names: the journey tests run once for each.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use serde_json::Value;
use tandem::{config::Config, session::Case};
use tandem_dev::phone::{
    Account, Call, Dialect, Phone, PhoneConfig,
    page::{self, PageError},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::redis::RedisServer;

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "test-auth-token-9f8e7d";
pub const API_KEY: &str = "test-api-key-0123456789";
pub const BANK_NUMBER: &str = "+18005550100";
pub const AGENT_NUMBER: &str = "+14155550199";
/// Deadline for anything that should happen "at once"; only reached when a test fails.
pub const SOON: Duration = Duration::from_secs(10);

/// The provider this run of the suite plays (`TANDEM_TEST_PROVIDER`, default twilio).
pub fn dialect() -> Dialect {
    account().dialect
}

/// The account every node and phone of this run shares at its provider.
pub fn account() -> Account {
    static ACCOUNT: std::sync::OnceLock<Account> = std::sync::OnceLock::new();
    ACCOUNT
        .get_or_init(|| {
            let name = std::env::var("TANDEM_TEST_PROVIDER").unwrap_or_else(|_| "twilio".into());
            match tandem_dev::phone::provider::dialect(&name) {
                Some(Dialect::Twilio) => Account::twilio(ACCOUNT_SID, AUTH_TOKEN),
                Some(other) => Account::new(other),
                None => panic!("TANDEM_TEST_PROVIDER={name} is not a provider the phone plays"),
            }
        })
        .clone()
}

/// A path of the provider's webhooks, e.g. `route("status")` is `/twilio/status`; a call's
/// first webhook (`voice`) and its status events go where the provider's account says
/// (Vonage's answer URL holds a secret, its events go to `/vonage/event`).
pub fn route(name: &str) -> String {
    match name {
        "voice" => account().voice_path(),
        "status" => account().status_path(),
        _ => format!("/{}/{name}", dialect().name()),
    }
}

/// The held-card journey as stored: the sample alert's card and charges as its data.
pub fn sample_case(phone: &str) -> Case {
    tandem::session::alert::sample(phone).into_case()
}

/// The sample held-card alert as the bank posts it.
pub fn alert_json(phone: &str) -> Value {
    serde_json::to_value(tandem::session::alert::sample(phone)).unwrap()
}

/// A distinct caller number per test, so parallel tests never share an alert.
pub fn caller() -> String {
    format!("+1415{:07}", rand_u32() % 10_000_000)
}

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).unwrap();
    u32::from_le_bytes(b)
}

#[derive(Default)]
pub struct Options {
    /// Run on a private redis-server started for this app.
    pub redis: bool,
    pub redis_url: Option<String>,
    pub scripts_dir: Option<PathBuf>,
    pub hold_poll_ms: Option<u64>,
    pub agent: bool,
    /// Serve the fake Twilio API elsewhere (a second node shares the first one's).
    pub api_base: Option<String>,
    /// Any other `TANDEM_*` settings.
    pub env: Vec<(&'static str, String)>,
    /// The phone's status callbacks go astray (as when Redis was away when they came).
    pub lose_status_callbacks: bool,
}

pub struct TestApp {
    pub base: String,
    pub phone: Phone,
    pub http: reqwest::Client,
    pub shutdown: CancellationToken,
    pub _redis: Option<Arc<RedisServer>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// What every test node is told, wherever it runs: one list for in-process apps and
/// spawned `tandem serve` processes alike.
fn common_env(public: &str, api_base: &str, scripts: String) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("TANDEM_PUBLIC_URL", public.to_owned()),
        ("TANDEM_API_KEY", API_KEY.to_owned()),
        ("TANDEM_SMS_FROM", BANK_NUMBER.to_owned()),
        ("TANDEM_SCRIPTS_DIR", scripts),
    ];
    env.extend(account().server_env(api_base));
    env
}

/// The shipped scripts.
fn shipped_scripts() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../ivr-scripts").to_owned()
}

pub fn config(addr: SocketAddr, public: &str, api_base: &str, o: &Options) -> Config {
    let scripts = o
        .scripts_dir
        .as_ref()
        .map_or_else(shipped_scripts, |d| d.display().to_string());
    let mut vars = common_env(public, api_base, scripts);
    vars.extend([
        ("TANDEM_LISTEN", addr.to_string()),
        (
            "TANDEM_HOLD_POLL_MS",
            o.hold_poll_ms.unwrap_or(8000).to_string(),
        ),
        // As behind a load balancer: tests name their client in this header.
        ("TANDEM_CLIENT_IP_HEADER", "x-forwarded-for".to_owned()),
    ]);
    if let Some(url) = &o.redis_url {
        vars.push(("TANDEM_REDIS_URL", url.clone()));
    }
    if o.agent {
        vars.push(("TANDEM_AGENT_NUMBER", AGENT_NUMBER.to_owned()));
    }
    vars.extend(o.env.iter().cloned());
    Config::from_lookup(|k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    })
    .expect("test config is valid")
}

pub fn redis_options() -> Options {
    Options {
        redis: true,
        ..Options::default()
    }
}

/// A node on its own redis-server; journeys run against the production store.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(redis_options()).await
}

pub async fn spawn_app_with(mut o: Options) -> TestApp {
    let on_redis = o.redis || (o.redis_url.is_none() && crate::redis::on_cluster());
    let redis = on_redis.then(|| Arc::new(RedisServer::start()));
    if let Some(r) = &redis {
        o.redis_url = Some(r.url());
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let mut phone_config = phone_config(&base);
    if o.lose_status_callbacks {
        phone_config.status_path = route("status-gone-astray");
    }
    let phone = Phone::new(phone_config);
    let api_base = match &o.api_base {
        Some(b) => b.clone(),
        None => serve_fake_api(&phone).await,
    };
    let shutdown = CancellationToken::new();
    let config = config(addr, &base, &api_base, &o);
    tokio::spawn(tandem::app::run(config, listener, shutdown.clone()));
    TestApp {
        base,
        phone,
        http: http_client(),
        shutdown,
        _redis: redis,
    }
}

pub fn phone_config(base: &str) -> PhoneConfig {
    PhoneConfig {
        server: base.to_owned(),
        public_url: base.to_owned(),
        account: account(),
        voice_path: route("voice"),
        status_path: route("status"),
        timeout_scale: 1.0,
        voice: tandem_dev::phone::Voice::Instant,
    }
}

/// Serves the phone's fake Twilio REST API on its own port; returns its base URL.
pub async fn serve_fake_api(phone: &Phone) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let api = phone.fake_api();
    tokio::spawn(async move { axum::serve(listener, api).await });
    format!("http://{addr}")
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl TestApp {
    pub async fn raise_alert(&self, phone: &str) -> String {
        let res = self.post_alert(&alert_json(phone), Some(API_KEY)).await;
        assert_eq!(res.status(), 201, "alert accepted");
        res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn post_alert(&self, body: &Value, key: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}/api/v1/alerts", self.base))
            .json(body);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        req.send().await.unwrap()
    }

    /// Starts a journey by script name with its data (`POST /api/v1/journeys`).
    pub async fn start_journey(&self, script: &str, customer: Value, data: Value) {
        let res = self
            .http
            .post(format!("{}/api/v1/journeys", self.base))
            .bearer_auth(API_KEY)
            .json(&serde_json::json!({ "script": script, "customer": customer, "data": data }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "journey accepted");
    }

    pub async fn alert_status(&self, id: &str) -> String {
        api_get(&format!("{}/api/v1/alerts/{id}", self.base)).await["status"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn place_call(&self, from: &str) -> Call {
        self.phone.place_call(from, BANK_NUMBER).await
    }

    /// A customer with an open alert who verified and pressed 0: the call waits for a person.
    pub async fn caller_waiting_for_a_person(&self, from: &str) -> Call {
        self.raise_alert(from).await;
        let mut call = self.verified_call(from).await;
        call.press("0");
        call.expect_said("Connecting you with a representative", SOON)
            .await
            .unwrap();
        call
    }

    /// A call from a customer with an open alert, verified and at the offer menu.
    pub async fn verified_call(&self, from: &str) -> Call {
        let mut call = self.place_call(from).await;
        call.expect_said("Hello Dana", SOON).await.unwrap();
        verify(&mut call).await;
        call
    }

    /// Presses 1 and returns the link from the text that arrives.
    pub async fn request_link(&self, call: &mut Call, from: &str) -> String {
        request_link(&self.phone, call, from).await
    }

    /// A customer with an alert whose call is verified, whose link is texted and opened on a
    /// new device, and whose call has heard that and waits for the decision: the alert's id,
    /// the call and the page.
    pub async fn at_decision(&self, from: &str) -> (String, Call, Page) {
        let alert = self.raise_alert(from).await;
        let mut call = self.verified_call(from).await;
        let link = self.request_link(&mut call, from).await;
        let page = Device::new()
            .open_page(&link, &self.base, &self.origin())
            .await;
        call.expect_said("I see you have the charges", SOON)
            .await
            .unwrap();
        call.expect_gathering(SOON).await.unwrap();
        (alert, call, page)
    }

    /// `GET /healthz`, as the load balancer asks it.
    pub async fn health(&self) -> reqwest::Response {
        self.http
            .get(format!("{}/healthz", self.base))
            .send()
            .await
            .unwrap()
    }

    pub fn origin(&self) -> String {
        self.base.clone()
    }
}

/// A GET on the bank's API, as JSON.
pub async fn api_get(url: &str) -> Value {
    http_client()
        .get(url)
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub fn link_in(body: &str) -> String {
    body.split_whitespace()
        .find(|w| w.starts_with("http"))
        .expect("the text holds a link")
        .to_owned()
}

/// The customer's browser on one device (the library's headless page, unwrapped for tests).
pub struct Device {
    inner: page::Device,
}

/// The page, opened and connected.
pub struct Page {
    inner: page::PageSocket,
    /// The device the page is open on, for another socket from it.
    device: page::Device,
    pub session: String,
    pub snapshot: Value,
}

impl Device {
    pub fn new() -> Self {
        Self {
            inner: page::Device::new(),
        }
    }

    pub fn cookie(&self) -> Option<String> {
        self.inner.cookie.clone()
    }

    /// Opens the texted link; the page path it redirects to, or the refusal's status and body.
    pub async fn open_link(&mut self, link: &str) -> Result<String, (u16, String)> {
        match self.inner.open_link(link).await {
            Ok(path) => Ok(path),
            Err(PageError::Refused { status, body }) => Err((status, body)),
            Err(e) => panic!("opening the link failed: {e}"),
        }
    }

    /// Opens the link, loads the page and connects its websocket to `node` (any node).
    pub async fn open_page(&mut self, link: &str, node: &str, origin: &str) -> Page {
        let path = self.open_link(link).await.expect("the link opens");
        let http = http_client();
        let html = http
            .get(format!("{node}{path}"))
            .header("Cookie", self.cookie().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(html.status(), 200);
        assert_eq!(html.headers()["referrer-policy"], "no-referrer");
        assert!(
            html.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        assert_eq!(html.headers()["cache-control"], "no-store");
        let screen = page::first_screen(&html.text().await.unwrap());
        match self
            .inner
            .connect_having(node, &path, origin, 0, screen)
            .await
        {
            Ok(inner) => Page {
                session: inner.session.clone(),
                snapshot: inner.snapshot.clone(),
                inner,
                device: self.inner.clone(),
            },
            Err(e) => panic!("the page's socket failed: {e}"),
        }
    }

    pub async fn connect(
        &self,
        node: &str,
        path: &str,
        origin: &str,
        after: u64,
    ) -> Result<Page, u16> {
        match self.inner.connect(node, path, origin, after).await {
            Ok(inner) => Ok(Page {
                session: inner.session.clone(),
                snapshot: inner.snapshot.clone(),
                inner,
                device: self.inner.clone(),
            }),
            Err(PageError::Refused { status, .. }) => Err(status),
            Err(e) => panic!("the page's socket failed: {e}"),
        }
    }
}

/// A websocket to `url`, or the HTTP status it was refused with.
pub async fn ws_connect(url: &str, cookie: Option<&str>, origin: Option<&str>) -> Result<(), u16> {
    match page::connect(url, cookie, origin).await {
        Ok(_) => Ok(()),
        Err(PageError::Refused { status, .. }) => Err(status),
        Err(e) => panic!("websocket failed: {e}"),
    }
}

/// The component with `id` on a drawn screen (`Value::Null` when there is none).
pub fn component<'a>(screen: &'a Value, id: &str) -> &'a Value {
    screen["components"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .unwrap_or(&Value::Null)
}

impl Page {
    /// The screen the page shows: the one it arrived with, or the snapshot's.
    pub fn screen(&self) -> &Value {
        &self.inner.screen
    }

    /// A button's action on the screen shown at `seq`, as the page sends it.
    pub async fn act(&mut self, seq: u64, name: &str) {
        let msg = serde_json::json!({ "type": "action", "screen": seq, "name": name });
        self.send_text(&msg.to_string()).await;
    }

    /// A form's answer on the screen shown at `seq`, as the page sends it.
    pub async fn submit(&mut self, seq: u64, form: &str, values: Value) {
        let msg =
            serde_json::json!({ "type": "submit", "screen": seq, "form": form, "values": values });
        self.send_text(&msg.to_string()).await;
    }

    /// Opens a second socket for this page's device, holding `screen`: its snapshot.
    pub async fn reconnect(&self, node: &str, path: &str, origin: &str, screen: Value) -> Value {
        self.device
            .connect_having(node, path, origin, 0, screen)
            .await
            .expect("the page's socket connects")
            .snapshot
    }

    /// Sends any text, as a hostile or broken page might.
    pub async fn send_text(&mut self, text: &str) {
        self.inner
            .send_text(text)
            .await
            .expect("the socket takes it");
    }

    /// Reads until the server closes the socket: what it read before, and the close code.
    pub async fn until_closed(&mut self) -> (Vec<Value>, Option<u16>) {
        self.inner
            .until_closed(SOON)
            .await
            .expect("the server closes the socket in time")
    }

    pub async fn next(&mut self) -> Value {
        self.inner
            .next(SOON)
            .await
            .expect("a message in time, once and in order")
    }

    /// Skips messages until an event of `kind` (or a message of `type`) arrives.
    pub async fn expect(&mut self, kind: &str) -> Value {
        self.inner
            .expect(kind, SOON)
            .await
            .unwrap_or_else(|e| panic!("waiting for {kind}: {e}"))
    }

    pub async fn tap(&mut self, decision: &str) {
        self.inner.tap(decision).await.unwrap();
    }

    pub async fn talk_to_someone(&mut self) {
        self.inner.talk_to_someone().await.unwrap();
    }

    /// Every message up to and including the first of `kind`.
    pub async fn collect_until(&mut self, kind: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let v = self.next().await;
            let done = v["event"]["kind"] == kind || v["type"] == kind;
            seen.push(v);
            if done {
                return seen;
            }
        }
    }

    /// The server closes the socket (after a `bye`).
    pub async fn expect_closed(&mut self) {
        self.inner.closed(SOON).await.expect("closed in time");
    }
}

/// Follows the call until it is transferred; returns where to.
pub async fn transferred(call: &mut Call) -> String {
    loop {
        match call.next_event(SOON).await.expect("the call goes on") {
            tandem_dev::phone::CallEvent::Transferred(to) => return to,
            tandem_dev::phone::CallEvent::Ended(reason) => {
                panic!(
                    "ended without a transfer: {reason:?}: {:?}",
                    call.transcript()
                )
            }
            _ => {}
        }
    }
}

/// A `tandem serve` process on `port`, sharing `redis`, behind the public URL `public`.
pub fn node(
    port: u16,
    redis: &crate::redis::RedisServer,
    api_base: &str,
    public: &str,
) -> tandem_dev::bench::local::LocalNode {
    node_with(port, redis, api_base, public, vec![])
}

/// [`node`] with more settings.
pub fn node_with(
    port: u16,
    redis: &crate::redis::RedisServer,
    api_base: &str,
    public: &str,
    more: Vec<(&'static str, String)>,
) -> tandem_dev::bench::local::LocalNode {
    let mut env = common_env(public, api_base, shipped_scripts());
    env.extend([
        ("TANDEM_REDIS_URL", redis.url()),
        // Verbose, so tests that read the log have everything to look at.
        ("RUST_LOG", "debug,hyper=info,h2=info".to_owned()),
    ]);
    env.extend(more);
    tandem_dev::bench::local::LocalNode::start(env!("CARGO_BIN_EXE_tandem").as_ref(), port, &env)
        .expect("a tandem node starts")
}

/// The agent's view of a session (`GET` on `path` with the API key): status and body.
pub async fn context(app: &TestApp, path: &str) -> (u16, Value) {
    let res = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

/// A load balancer in front of `backends`: each request goes to the first that accepts the
/// connection, as a proxy with passive health checks does. Webhooks only; pages connect to a
/// node directly.
pub async fn failover(backends: Vec<String>) -> String {
    use axum::{body::Bytes, extract::Request, http::HeaderMap, response::IntoResponse};
    // A fresh connection per request, so a stopped node shows as a refused connection
    // rather than as a pooled connection it closed.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let forward = move |req: Request| {
        let (client, backends) = (client.clone(), backends.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let path = parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            for backend in &backends {
                let mut headers = HeaderMap::new();
                for name in [
                    "content-type",
                    "authorization",
                    "x-twilio-signature",
                    "x-signalwire-signature",
                    "telnyx-signature-ed25519",
                    "telnyx-timestamp",
                    "x-plivo-signature-v3",
                    "x-plivo-signature-v3-nonce",
                    "x-plivo-signature-v2",
                    "x-plivo-signature-v2-nonce",
                ] {
                    if let Some(v) = parts.headers.get(name) {
                        headers.insert(name, v.clone());
                    }
                }
                let sent = client
                    .request(parts.method.clone(), format!("{backend}{path}"))
                    .headers(headers)
                    .body(body.clone())
                    .send()
                    .await;
                // Only a refused connection moves on: a request cut off mid-way is an error,
                // as it would be at Twilio, so a node must answer what it accepted.
                let res = match sent {
                    Ok(res) => res,
                    Err(e) if e.is_connect() => continue,
                    Err(_) => {
                        return (axum::http::StatusCode::BAD_GATEWAY, "cut off").into_response();
                    }
                };
                {
                    let status = res.status();
                    let kind = res.headers().get("content-type").cloned();
                    let text = res.bytes().await.unwrap_or_default();
                    let mut out = (status, text).into_response();
                    if let Some(kind) = kind {
                        out.headers_mut().insert("content-type", kind);
                    }
                    return out;
                }
            }
            (axum::http::StatusCode::BAD_GATEWAY, "no backend").into_response()
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(forward)).await });
    base
}

/// A TCP balancer, as a load balancer in TCP mode (or an L4 cloud balancer) is: each connection
/// goes to the first backend that accepts it, so websockets pass through, and a stopped node
/// (connection refused) is skipped.
pub async fn tcp_failover(backends: Vec<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let backends: Vec<String> = backends
        .iter()
        .map(|b| b.trim_start_matches("http://").to_owned())
        .collect();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let backends = backends.clone();
            tokio::spawn(async move {
                for backend in &backends {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                }
            });
        }
    });
    base
}

/// Enters the card digits when asked; the call is then at the offer menu.
pub async fn verify(call: &mut Call) {
    call.expect_said("last four digits", SOON).await.unwrap();
    call.press("4242");
    call.expect_said("to get a text message with a link", SOON)
        .await
        .unwrap();
}

/// Presses 1 at the offer menu; the link from the text, with the call holding for the page.
pub async fn request_link(phone: &Phone, call: &mut Call, from: &str) -> String {
    call.press("1");
    let sms = phone
        .next_sms(from, SOON)
        .await
        .expect("the link is texted");
    call.expect_said("on its way", SOON).await.unwrap();
    link_in(&sms.body)
}

/// Verifies a call just placed and asks for the link; the link, with the call holding for the
/// page.
pub async fn to_link(phone: &Phone, call: &mut Call, from: &str) -> String {
    verify(call).await;
    request_link(phone, call, from).await
}
