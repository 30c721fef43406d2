//! A headless stand-in for the customer's browser: opens the texted link on one device
//! (keeping its cookie), then speaks the page's websocket protocol.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest},
};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("refused with HTTP {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("{0}")]
    Broken(String),
    #[error("nothing arrived in time")]
    Timeout,
    #[error("the socket closed")]
    Closed,
}

fn broken(e: impl std::fmt::Display) -> PageError {
    PageError::Broken(e.to_string())
}

/// One device: its HTTP client and the cookie the server bound the link to.
#[derive(Clone)]
pub struct Device {
    pub cookie: Option<String>,
    http: reqwest::Client,
}

impl Default for Device {
    fn default() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("static client settings");
        Self { cookie: None, http }
    }
}

/// The page's live connection.
pub struct PageSocket {
    /// The session id, from the page's path.
    pub session: String,
    pub snapshot: Value,
    /// Highest event `seq` received.
    pub last_seq: u64,
    /// The screen the page shows now (from the snapshot, then each `screen` message).
    pub screen: Value,
    ws: Ws,
}

impl Device {
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens the texted link as a person does: fetches it, taps Open on the page it shows
    /// (which claims it for this device), and returns the page path it leads to
    /// (`/p/<session>`). A link this device already holds leads there at once.
    pub async fn open_link(&mut self, link: &str) -> Result<String, PageError> {
        let res = self.request(self.http.get(link)).await?;
        let res = match res.status().as_u16() {
            303 => res,
            200 => {
                let page = res.text().await.unwrap_or_default();
                if !page.contains("id=\"open\"") {
                    return Err(broken("the link's page has no Open button"));
                }
                self.request(self.http.post(link)).await?
            }
            status => {
                return Err(PageError::Refused {
                    status,
                    body: res.text().await.unwrap_or_default(),
                });
            }
        };
        if res.status() != 303 {
            let status = res.status().as_u16();
            return Err(PageError::Refused {
                status,
                body: res.text().await.unwrap_or_default(),
            });
        }
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if let Some(cookie) = header("set-cookie") {
            self.cookie = cookie.split(';').next().map(str::to_owned);
        }
        if self.cookie.is_none() {
            return Err(broken("no device cookie"));
        }
        let location = header("location").ok_or_else(|| broken("no redirect"))?;
        let path = location
            .find("/p/")
            .map(|i| location[i..].to_owned())
            .ok_or_else(|| broken("unexpected redirect"))?;
        Ok(path)
    }

    /// Sends `req` with this device's cookie.
    async fn request(
        &self,
        mut req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, PageError> {
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        req.send().await.map_err(broken)
    }

    /// Opens the link and connects the page's socket to `node` with the given `Origin`.
    pub async fn open_page(
        &mut self,
        link: &str,
        node: &str,
        origin: &str,
    ) -> Result<PageSocket, PageError> {
        let path = self.open_link(link).await?;
        let html = self.load(node, &path).await?;
        self.connect_having(node, &path, origin, 0, first_screen(&html))
            .await
    }

    /// Loads the page itself (`/p/<session>`), as a browser does before its socket.
    pub async fn load(&self, node: &str, path: &str) -> Result<String, PageError> {
        let res = self.request(self.http.get(format!("{node}{path}"))).await?;
        let status = res.status().as_u16();
        let body = res.text().await.map_err(broken)?;
        match status {
            200 => Ok(body),
            status => Err(PageError::Refused { status, body }),
        }
    }

    /// Connects with no screen in hand: the snapshot brings the current one.
    pub async fn connect(
        &self,
        node: &str,
        path: &str,
        origin: &str,
        after: u64,
    ) -> Result<PageSocket, PageError> {
        self.connect_having(node, path, origin, after, Value::Null)
            .await
    }

    /// Connects holding `screen` (the one the page came with, or drew before): the snapshot
    /// leaves it out while it is current, as it does for the browser.
    pub async fn connect_having(
        &self,
        node: &str,
        path: &str,
        origin: &str,
        after: u64,
        screen: Value,
    ) -> Result<PageSocket, PageError> {
        let having = match screen["seq"].as_u64() {
            Some(seq) => format!("&screen={seq}"),
            None => String::new(),
        };
        let url = format!(
            "{}{path}/ws?after={after}{having}",
            node.replacen("http", "ws", 1)
        );
        let ws = connect(&url, self.cookie.as_deref(), Some(origin)).await?;
        let session = path.trim_start_matches("/p/").to_owned();
        let mut page = PageSocket {
            session,
            ws,
            snapshot: Value::Null,
            last_seq: after,
            screen: Value::Null,
        };
        let snapshot = page.next(Duration::from_secs(10)).await?;
        if snapshot["type"] != "snapshot" {
            return Err(broken(format!("expected a snapshot first, got {snapshot}")));
        }
        page.screen = match &snapshot["session"]["screen"] {
            Value::Null => screen,
            fresh => fresh.clone(),
        };
        page.snapshot = snapshot;
        Ok(page)
    }
}

/// The screen a page arrived with: the JSON data block the server puts in it.
pub fn first_screen(html: &str) -> Value {
    html.split(r#"<script type="application/json" id="first-screen">"#)
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or(Value::Null)
}

/// Opens a websocket with the given cookie and origin; an HTTP refusal comes back as its status.
pub async fn connect(
    url: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<Ws, PageError> {
    let mut req = url.into_client_request().map_err(broken)?;
    for (name, value) in [("Cookie", cookie), ("Origin", origin)] {
        if let Some(v) = value {
            req.headers_mut().insert(name, v.parse().map_err(broken)?);
        }
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(PageError::Refused {
            status: res.status().as_u16(),
            body: String::new(),
        }),
        Err(e) => Err(broken(e)),
    }
}

impl PageSocket {
    /// The next message; events must arrive once and in order.
    pub async fn next(&mut self, within: Duration) -> Result<Value, PageError> {
        loop {
            let msg = tokio::time::timeout(within, self.ws.next())
                .await
                .map_err(|_| PageError::Timeout)?;
            let text = match msg {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(_)) | None => return Err(PageError::Closed),
                Some(Err(e)) => return Err(broken(e)),
            };
            let value: Value = serde_json::from_str(&text).map_err(broken)?;
            if value["type"] == "screen" {
                self.screen = value["screen"].clone();
            }
            if let Some(seq) = value["seq"].as_u64() {
                if seq <= self.last_seq {
                    return Err(broken(format!(
                        "event {seq} arrived after {}",
                        self.last_seq
                    )));
                }
                self.last_seq = seq;
            }
            return Ok(value);
        }
    }

    /// Skips messages until an event of `kind` (or a message of that `type`) arrives.
    pub async fn expect(&mut self, kind: &str, within: Duration) -> Result<Value, PageError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let v = self.next(left).await?;
            if v["event"]["kind"] == kind || v["type"] == kind {
                return Ok(v);
            }
        }
    }

    pub async fn tap(&mut self, decision: &str) -> Result<(), PageError> {
        let msg = json!({"type": "decide", "decision": decision}).to_string();
        self.ws.send(Message::text(msg)).await.map_err(broken)
    }

    /// Taps the button that raises `action` on the screen shown now.
    pub async fn act(&mut self, action: &str) -> Result<(), PageError> {
        let seq = self.screen["seq"].as_u64().unwrap_or(0);
        let msg = json!({"type": "action", "screen": seq, "name": action}).to_string();
        self.ws.send(Message::text(msg)).await.map_err(broken)
    }

    /// Sends `form` with `values` on the screen shown now.
    pub async fn submit(&mut self, form: &str, values: &Value) -> Result<(), PageError> {
        let seq = self.screen["seq"].as_u64().unwrap_or(0);
        let msg =
            json!({"type": "submit", "screen": seq, "form": form, "values": values}).to_string();
        self.ws.send(Message::text(msg)).await.map_err(broken)
    }

    /// Presses the page's "Talk to someone" button.
    pub async fn talk_to_someone(&mut self) -> Result<(), PageError> {
        let msg = json!({"type": "talk_to_someone"}).to_string();
        self.ws.send(Message::text(msg)).await.map_err(broken)
    }

    /// Sends any text, as a hostile or broken page might.
    pub async fn send_text(&mut self, text: &str) -> Result<(), PageError> {
        self.ws.send(Message::text(text)).await.map_err(broken)
    }

    /// Reads until the server closes the socket: the messages read before, and the close
    /// code it gave (none for a close without a frame or a dropped connection).
    pub async fn until_closed(
        &mut self,
        within: Duration,
    ) -> Result<(Vec<Value>, Option<u16>), PageError> {
        let mut read = Vec::new();
        loop {
            let msg = tokio::time::timeout(within, self.ws.next())
                .await
                .map_err(|_| PageError::Timeout)?;
            match msg {
                Some(Ok(Message::Text(t))) => read.push(serde_json::from_str(&t).map_err(broken)?),
                Some(Ok(Message::Close(frame))) => {
                    return Ok((read, frame.map(|f| u16::from(f.code))));
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return Ok((read, None)),
            }
        }
    }

    /// Waits for the server to close the socket.
    pub async fn closed(&mut self, within: Duration) -> Result<(), PageError> {
        loop {
            match self.next(within).await {
                Err(PageError::Closed) => return Ok(()),
                Err(e) => return Err(e),
                Ok(_) => continue,
            }
        }
    }
}

/// The first web address in a text message.
pub fn link_in(body: &str) -> Option<String> {
    body.split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        .map(str::to_owned)
}
