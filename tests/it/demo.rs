//! `tandem demo` as a person runs it: the real binary on a pseudo-terminal, keys typed at its
//! prompts, the texted link opened by a device of the test's own.

use std::time::Duration;

use rexpect::session::PtySession;
use tandem_dev::phone::page::Device;

const WAIT: u64 = 30_000;

/// The demo at 20× speed on a 120-column terminal, from the repository root (its scripts).
fn start_demo() -> PtySession {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut command = std::process::Command::new("sh");
    command.current_dir(root).arg("-c").arg(format!(
        "stty cols 120 rows 50 && exec {} demo --port 0 --mute --speed 20",
        env!("CARGO_BIN_EXE_tandem")
    ));
    command.env_remove("NO_COLOR").env("RUST_LOG", "warn");
    rexpect::session::spawn_command(command, Some(WAIT)).expect("the demo starts")
}

fn expect(demo: &mut PtySession, text: &str) -> String {
    demo.exp_string(text)
        .unwrap_or_else(|e| panic!("waiting for {text:?}: {e}"))
}

#[test]
fn the_demo_waits_for_enter_keeps_the_page_alive_after_the_call_and_calls_again() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut demo = start_demo();
    let (_, base) = demo
        // The pty is read as bytes arrive: a match must end at a character after the address, or
        // it could stop part-way through it.
        .exp_regex(r"running at http://127\.0\.0\.1:\d+[^\d]")
        .expect("the node's address");
    let base = base.trim_start_matches("running at ");
    let base = base[..base.len() - 1].to_owned();
    expect(&mut demo, "press Enter to call the bank");
    demo.send_line("").unwrap();
    // Nothing of the call before Enter.
    let before = expect(&mut demo, "calling:");
    assert!(!before.contains("session opened"), "{before}");

    // In the session's order: the keys, then what they caused.
    expect(&mut demo, "#1 EVENT  session opened");
    expect(&mut demo, "keypad open: 4 keys");
    demo.send_line("4242").unwrap();
    let verified = expect(&mut demo, "EVENT  caller verified");
    // The card digits are masked (the pty is read byte by byte, so no bullets to compare).
    assert!(verified.contains("YOU    pressed "), "{verified}");
    assert!(!verified.contains("pressed 4242"), "{verified}");
    expect(&mut demo, "keypad open: 1 key");
    demo.send_line("1").unwrap();
    // The session records the text, then the phone shows it: the same order every run.
    expect(&mut demo, "EVENT  page link texted");
    let (_, link) = demo
        .exp_regex(r"http://127\.0\.0\.1:\d+/s/[A-Za-z0-9_-]+[^A-Za-z0-9_-]")
        .expect("the texted link, whole on one line");
    // What ends the token is a colour code or a line end: not part of the link.
    let link = &link[..link.len() - 1];

    let mut page = rt.block_on(async {
        let mut page = Device::new()
            .open_page(link, &base, &base)
            .await
            .expect("the page opens");
        page.tap("approve").await.unwrap();
        page
    });
    let approved = expect(&mut demo, "EVENT  approved on the page");
    assert!(approved.contains("EVENT  page opened"), "{approved}");
    expect(&mut demo, "IVR    Thank you, the charges are approved");
    // The phone hangs up, then the session hears of it.
    expect(&mut demo, "PHONE  call ended (the IVR hung up)");
    expect(&mut demo, "EVENT  call ended (completed)");
    expect(&mut demo, "EVENT  session closed");
    expect(&mut demo, "press Enter to call again");
    // The node is still up: the page hears the end of the session and reaches its ended state.
    rt.block_on(page.expect("session_closed", Duration::from_secs(10)))
        .expect("the page is told the session closed");

    // Another call, on a new alert, without restarting; this one asks for a person.
    demo.send_line("").unwrap();
    expect(&mut demo, "a new alert is raised");
    expect(&mut demo, "#1 EVENT  session opened");
    expect(&mut demo, "keypad open: 4 keys");
    demo.send_line("4242").unwrap();
    expect(&mut demo, "keypad open: 1 key");
    demo.send_line("0").unwrap();
    expect(&mut demo, "Connecting you with a representative");
    expect(&mut demo, "type a and Enter to join as one");
    demo.send_line("a").unwrap();
    expect(&mut demo, "You, as the representative joined");
    expect(&mut demo, "You're through to a representative now.");
    expect(&mut demo, "transferred to");
    expect(&mut demo, "press Enter to call again");
    demo.send_line("q").unwrap();
    demo.exp_eof().expect("the demo exits when asked");
}

fn tandem(args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"));
    command
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(args)
        .stdin(std::process::Stdio::null())
        .env_remove("NO_COLOR")
        .env_remove("TANDEM_TWILIO_ACCOUNT_SID")
        .env_remove("TANDEM_TWILIO_AUTH_TOKEN");
    command
}

#[test]
fn help_names_every_setting_and_describes_every_option_without_empty_values() {
    let serve = tandem(&["serve", "--help"]).output().unwrap();
    let serve = String::from_utf8_lossy(&serve.stdout);
    for name in [
        "TANDEM_PUBLIC_URL",
        "TANDEM_REDIS_URL",
        "TANDEM_TWILIO_AUTH_TOKEN",
        "TANDEM_HISTORY_DAYS",
        "TANDEM_QUIET_CALL_MS",
        "NO_COLOR",
    ] {
        assert!(serve.contains(name), "{name} in serve --help:\n{serve}");
    }
    let phone = tandem(&["phone", "--help"]).output().unwrap();
    let phone = String::from_utf8_lossy(&phone.stdout);
    assert!(phone.contains("--auth-token <AUTH_TOKEN>"), "{phone}");
    assert!(
        phone.contains("which every webhook is signed with"),
        "the credentials are described:\n{phone}"
    );
    assert!(
        !phone.contains("=]"),
        "no empty environment value shown:\n{phone}"
    );
}

#[test]
fn the_demo_on_a_redis_that_is_not_there_says_so_in_a_sentence() {
    let out = tandem(&["demo", "--port", "0", "--redis", "redis://127.0.0.1:1/"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Redis at redis://127.0.0.1:1/ does not answer"),
        "{err}"
    );
    assert!(!err.contains('{'), "no raw JSON for a person: {err}");
}

#[test]
fn a_node_logging_to_a_pipe_writes_no_colour_codes_and_says_what_is_missing_at_start() {
    use std::io::{BufRead, BufReader};

    let mut node = tandem(&["serve"])
        .env("TANDEM_LISTEN", "127.0.0.1:0")
        .env("TANDEM_REDIS_URL", "redis://127.0.0.1:1/")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = node.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let (mut twilio, mut store) = (false, false);
    while !(twilio && store) {
        let line = lines
            .recv_timeout(Duration::from_secs(10))
            .expect("the node says both at start");
        assert!(
            !line.contains('\u{1b}'),
            "a colour code in a pipe: {line:?}"
        );
        twilio |= line.contains("Twilio is not configured");
        store |= line.contains("the store does not answer");
    }
    let _ = node.kill();
    let _ = node.wait();
}
