//! The agent desk over HTTP: accounts, signing in and out, the lockout, who may see which
//! session (and the audit of every view and refusal), the queue, and what an agent does in a
//! session reaching the call and the page once.

use serde_json::{Value, json};

use crate::helpers::*;

const PASSWORD: &str = "a long desk password 1";

/// Asks the provisioning API for an account, with the API key or without.
async fn post_agent(base: &str, account: Value, key: Option<&str>) -> reqwest::Response {
    let request = http_client()
        .post(format!("{base}/api/v1/agents"))
        .json(&account);
    match key {
        Some(key) => request.bearer_auth(key),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

/// Creates a desk account through the provisioning API.
async fn provision(app: &TestApp, login: &str, team: &str, role: &str) {
    let name = format!("{} Lee", capitalised(login));
    let account =
        json!({ "login": login, "name": name, "team": team, "role": role, "password": PASSWORD });
    let res = post_agent(&app.base, account, Some(API_KEY)).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A browser at the desk: its cookie, and the desk's own origin on every change.
struct Desk<'a> {
    app: &'a TestApp,
    cookie: Option<String>,
    origin: String,
}

impl<'a> Desk<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookie: None,
            origin: app.origin(),
        }
    }

    async fn sign_in(&mut self, login: &str, password: &str) -> reqwest::Response {
        let res = self
            .post(
                "/desk/api/sign-in",
                json!({ "login": login, "password": password }),
            )
            .await;
        if let Some(set) = res.headers().get("set-cookie") {
            let set = set.to_str().unwrap().to_owned();
            assert!(
                set.contains("HttpOnly")
                    && set.contains("Secure")
                    && set.contains("SameSite=Strict"),
                "{set}"
            );
            self.cookie = set.split(';').next().map(str::to_owned);
        }
        res
    }

    fn with_cookie(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let request = self.app.http.get(format!("{}{path}", self.app.base));
        let res = self.with_cookie(request).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        let request = self
            .app
            .http
            .post(format!("{}{path}", self.app.base))
            .header("origin", &self.origin)
            .json(&body);
        self.with_cookie(request).send().await.unwrap()
    }
}

/// A caller who pressed 0 and waits for a person; their session's id.
async fn waiting_caller(app: &TestApp) -> (String, tandem_dev::phone::Call) {
    let call = app.caller_waiting_for_a_person(&caller()).await;
    let (_, ctx) = context(app, &format!("/api/v1/calls/{}/session", call.sid)).await;
    (ctx["id"].as_str().unwrap().to_owned(), call)
}

/// The desk's queue, waiting until it lists `id` (the queue follows commits in the
/// background).
async fn queued(desk: &Desk<'_>, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        let (status, body) = desk.get("/desk/api/queue").await;
        assert_eq!(status, 200, "{body}");
        if let Some(entry) = body["queue"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"] == id)
        {
            return entry.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never queued: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn audit(desk: &Desk<'_>) -> Vec<Value> {
    let (status, body) = desk.get("/desk/api/audit").await;
    assert_eq!(status, 200, "{body}");
    body["audit"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_agent_sees_only_their_teams_callers_and_every_look_is_audited() {
    let app = spawn_app_with(Options {
        agent: true,
        ..redis_options()
    })
    .await;
    provision(&app, "ana", "fraud", "agent").await;
    provision(&app, "bo", "cards", "agent").await;
    provision(&app, "sue", "fraud", "supervisor").await;
    let (mut ana, mut bo, mut sue) = (Desk::new(&app), Desk::new(&app), Desk::new(&app));
    for (desk, login) in [(&mut ana, "ana"), (&mut bo, "bo"), (&mut sue, "sue")] {
        let res = desk.sign_in(login, PASSWORD).await;
        assert_eq!(res.status(), 200);
    }
    let (id, _call) = waiting_caller(&app).await;

    // The fraud script's caller is in Ana's queue, with who and why.
    let entry = queued(&ana, &id).await;
    assert_eq!(entry["customer"], "Dana Reyes");
    assert_eq!(entry["reason"], "asked for a person on the keypad");
    let (status, view) = ana.get(&format!("/desk/api/sessions/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(view["customer"]["name"], "Dana Reyes");
    assert!(view["events"].to_string().contains("verified"), "{view}");

    // Bo, in another team, finds nothing in his queue and cannot open it by its id, over
    // HTTP or over the socket; each try is written down.
    let (_, bos) = bo.get("/desk/api/queue").await;
    assert!(!bos.to_string().contains(&id), "{bos}");
    let (status, body) = bo.get(&format!("/desk/api/sessions/{id}")).await;
    assert_eq!(status, 404, "{body}");
    assert!(!body.to_string().contains("Dana"));
    let ws = bo
        .with_cookie(
            app.http
                .get(format!("{}/desk/api/sessions/{id}/ws", app.base))
                .header("origin", app.origin())
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .header("sec-websocket-version", "13")
                .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ws.status(), 404);
    // An agent reads no audit trail; a supervisor does.
    assert_eq!(bo.get("/desk/api/audit").await.0, 404);
    let trail = audit(&sue).await;
    let line = |agent: &str, action: &str| {
        trail
            .iter()
            .filter(|a| a["agent"] == agent && a["action"] == action && a["session"] == id.as_str())
            .count()
    };
    assert_eq!(line("ana", "view"), 1, "{trail:?}");
    assert_eq!(line("bo", "refused"), 2, "{trail:?}");
    // A supervisor sees every live session, read only.
    let (status, live) = sue.get("/desk/api/live").await;
    assert_eq!(status, 200);
    assert!(live["sessions"].to_string().contains(&id), "{live}");
    let res = sue
        .post(&format!("/desk/api/sessions/{id}/take"), json!({}))
        .await;
    assert_eq!(res.status(), 404, "a supervisor acts in no session");
}

#[tokio::test]
async fn an_agent_takes_the_call_decides_once_with_a_reason_and_ends_the_session() {
    let app = spawn_app_with(Options {
        agent: true,
        ..redis_options()
    })
    .await;
    provision(&app, "ana", "fraud", "agent").await;
    provision(&app, "cy", "fraud", "agent").await;
    let mut ana = Desk::new(&app);
    assert_eq!(ana.sign_in("ana", PASSWORD).await.status(), 200);
    let mut cy = Desk::new(&app);
    assert_eq!(cy.sign_in("cy", PASSWORD).await.status(), 200);
    let from = caller();
    let mut call = app.caller_waiting_for_a_person(&from).await;
    let (_, ctx) = context(&app, &format!("/api/v1/calls/{}/session", call.sid)).await;
    let id = ctx["id"].as_str().unwrap().to_owned();
    queued(&ana, &id).await;

    let res = ana
        .post(&format!("/desk/api/sessions/{id}/take"), json!({}))
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(transferred(&mut call).await, AGENT_NUMBER);
    // Taken: out of the queue, and Cy, in the same team, may no longer act in it.
    let (_, q) = ana.get("/desk/api/queue").await;
    assert!(!q.to_string().contains(&id), "{q}");
    let res = cy
        .post(
            &format!("/desk/api/sessions/{id}/cases"),
            json!({"note": "x", "expectation": "y"}),
        )
        .await;
    assert_eq!(res.status(), 404);

    // She texts the page link again: it reaches the caller's phone, and opens the page.
    let res = ana
        .post(&format!("/desk/api/sessions/{id}/text"), json!({}))
        .await;
    assert_eq!(res.status(), 204);
    let text = app
        .phone
        .next_sms(&from, SOON)
        .await
        .expect("the link is texted");
    let link = text
        .body
        .split_whitespace()
        .find(|w| w.contains("/s/"))
        .expect("a link in the text")
        .to_owned();
    let page = Device::new()
        .open_page(&link, &app.base, &app.origin())
        .await;
    assert_eq!(page.session, id);

    let decide = |reason: &str| json!({ "decision": "decline", "reason": reason });
    let res = ana
        .post(
            &format!("/desk/api/sessions/{id}/decision"),
            decide("caller did not make them"),
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = ana
        .post(
            &format!("/desk/api/sessions/{id}/decision"),
            json!({ "decision": "approve", "reason": "changed my mind" }),
        )
        .await;
    assert_eq!(res.status(), 409, "the first decision stands");
    let res = ana
        .post(
            &format!("/desk/api/sessions/{id}/decision"),
            json!({ "decision": "approve", "reason": " " }),
        )
        .await;
    assert_eq!(res.status(), 422, "a decision needs a reason");

    let (_, view) = ana.get(&format!("/desk/api/sessions/{id}")).await;
    let events = view["events"].as_array().unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "decided").count(),
        1,
        "{kinds:?}"
    );
    let joined = events
        .iter()
        .find(|e| e["event"]["kind"] == "agent_joined")
        .expect("joined");
    assert_eq!(joined["event"]["name"], "Ana from Fraud");
    let by_desk: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"]["kind"] == "desk_action")
        .collect();
    let actions: Vec<&str> = by_desk
        .iter()
        .map(|e| e["event"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["take", "text", "decide"],
        "each with who: {by_desk:?}"
    );
    assert!(by_desk.iter().all(|e| e["event"]["agent"] == "ana"));
    assert_eq!(by_desk[2]["event"]["reason"], "caller did not make them");
    assert_eq!(view["decision"]["by"], "desk");
    // The caller hung up after the transfer; the session stayed open for Ana until she ends it.
    assert_eq!(view["status"], "open", "{view}");
    let res = ana
        .post(&format!("/desk/api/sessions/{id}/end"), json!({}))
        .await;
    assert_eq!(res.status(), 204);
    let res = ana
        .post(&format!("/desk/api/sessions/{id}/end"), json!({}))
        .await;
    assert_eq!(res.status(), 409, "ended once");
    let (_, view) = ana.get(&format!("/desk/api/sessions/{id}")).await;
    assert_eq!(view["status"], "closed");
}

#[tokio::test]
async fn signing_in_locks_after_repeated_failures_and_a_cookie_works_only_from_the_desk() {
    let app = spawn_app_with(redis_options()).await;
    provision(&app, "ana", "fraud", "agent").await;
    let mut first = Desk::new(&app);
    assert_eq!(first.sign_in("ana", PASSWORD).await.status(), 200);
    let (status, me) = first.get("/desk/api/me").await;
    assert_eq!((status, me["login"].as_str()), (200, Some("ana")));
    assert!(me.get("password_hash").is_none(), "{me}");

    // Another site's page cannot act with the cookie: its requests carry its own origin.
    let mut stolen = Desk::new(&app);
    stolen.cookie = first.cookie.clone();
    stolen.origin = "https://evil.example".into();
    let res = stolen.post("/desk/api/sign-out", json!({})).await;
    assert_eq!(res.status(), 403);
    assert_eq!(first.get("/desk/api/me").await.0, 200, "still signed in");

    // Wrong passwords: refused, then the account is locked for the window, the right
    // password too; a browser already signed in keeps working.
    let mut guesser = Desk::new(&app);
    for _ in 0..4 {
        assert_eq!(
            guesser.sign_in("ana", "not the password!").await.status(),
            401
        );
    }
    assert_eq!(
        guesser.sign_in("ana", "not the password!").await.status(),
        429
    );
    assert_eq!(guesser.sign_in("ana", PASSWORD).await.status(), 429);
    assert!(guesser.cookie.is_none());
    assert_eq!(first.get("/desk/api/me").await.0, 200);

    // Signed out, the cookie is worth nothing; no cookie, or a made-up one, neither.
    assert_eq!(
        first.post("/desk/api/sign-out", json!({})).await.status(),
        204
    );
    assert_eq!(first.get("/desk/api/me").await.0, 401);
    assert_eq!(Desk::new(&app).get("/desk/api/queue").await.0, 401);
    let mut forged = Desk::new(&app);
    forged.cookie = Some(format!("tandem_desk={}", "A".repeat(43)));
    assert_eq!(forged.get("/desk/api/me").await.0, 401);

    // Accounts asked for badly are refused in plain words and need the API key.
    let bad = json!({ "login": "Bad Login", "name": "x", "team": "fraud", "role": "agent", "password": PASSWORD });
    assert_eq!(
        post_agent(&app.base, bad, Some(API_KEY)).await.status(),
        422
    );
    let eve = json!({ "login": "eve", "name": "Eve", "team": "fraud", "role": "supervisor", "password": PASSWORD });
    assert_eq!(post_agent(&app.base, eve, None).await.status(), 401);
}

#[tokio::test]
async fn a_password_never_reaches_the_log() {
    let redis = crate::redis::RedisServer::start();
    let port = crate::redis::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let node = node(port, &redis, "http://127.0.0.1:9", &base);
    let http = http_client();
    let ana = json!({ "login": "ana", "name": "Ana Lee", "team": "fraud", "role": "agent", "password": PASSWORD });
    assert_eq!(post_agent(&base, ana, Some(API_KEY)).await.status(), 201);
    for password in [PASSWORD, "a wrong guess at it"] {
        let res = http
            .post(format!("{base}/desk/api/sign-in"))
            .header("origin", &base)
            .json(&json!({ "login": "ana", "password": password }))
            .send()
            .await
            .unwrap();
        assert!(matches!(res.status().as_u16(), 200 | 401));
    }
    let log = node.log().join("\n");
    assert!(log.contains("desk account saved"), "the log is read: {log}");
    assert!(
        !log.contains(PASSWORD) && !log.contains("a wrong guess"),
        "{log}"
    );
}

#[tokio::test]
async fn a_sign_in_ends_when_its_time_is_up() {
    let app = spawn_app_with(Options {
        env: vec![("TANDEM_DESK_SIGN_IN_SECS", "1".into())],
        ..redis_options()
    })
    .await;
    provision(&app, "ana", "fraud", "agent").await;
    let mut desk = Desk::new(&app);
    let res = desk.sign_in("ana", PASSWORD).await;
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=1"),
        "the browser forgets it too"
    );
    assert_eq!(desk.get("/desk/api/me").await.0, 200);
    // The store forgets the sign-in when its second is up; the same cookie then gets nowhere.
    let deadline = tokio::time::Instant::now() + SOON;
    while desk.get("/desk/api/me").await.0 == 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sign-in never ended"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(desk.get("/desk/api/queue").await.0, 401);
}

#[tokio::test]
async fn behind_the_banks_sign_on_proxy_its_header_names_the_account() {
    let app = spawn_app_with(Options {
        env: vec![("TANDEM_DESK_AUTH_HEADER", "X-Auth-Request-User".into())],
        ..redis_options()
    })
    .await;
    let bo = json!({ "login": "bo", "name": "Bo Lee", "team": "fraud", "role": "agent" });
    assert_eq!(post_agent(&app.base, bo, Some(API_KEY)).await.status(), 201);
    let me = |who: &'static str| {
        app.http
            .get(format!("{}/desk/api/me", app.base))
            .header("x-auth-request-user", who)
            .send()
    };
    let res = me("bo").await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["login"], "bo");
    assert_eq!(
        me("nobody").await.unwrap().status(),
        401,
        "only accounts that exist"
    );
    // An account made for the proxy has no password to sign in with.
    let mut desk = Desk::new(&app);
    assert_eq!(desk.sign_in("bo", "").await.status(), 401);
    assert_eq!(desk.sign_in("bo", PASSWORD).await.status(), 401);
}
