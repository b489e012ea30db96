//! A fake OpenAI-compatible server: the chat completions endpoint (OpenAI and Azure paths) over
//! plain HTTP/1.1 on a loopback port, answering what each test scripts, in the shapes the real
//! API uses (completions with usage, refusals, `{"error": {...}}` bodies with 401/429/500).
//! It records every request so tests can check what Switchyard sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Path and query, e.g. `/v1/chat/completions`.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What the server answers to one request.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

type Script = dyn Fn(usize, &Recorded) -> Reply + Send + Sync;

pub struct FakeLlm {
    pub port: u16,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeLlm {
    /// Starts the server; `script(n, request)` answers the n-th request (0-based).
    pub fn start(script: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake LLM");
        let port = listener.local_addr().expect("address").port();
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let (seen, script): (_, Arc<Script>) = (requests.clone(), Arc::new(script));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (seen, script) = (seen.clone(), script.clone());
                std::thread::spawn(move || serve(stream, &seen, script.as_ref()));
            }
        });
        Self { port, requests }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Recorded>>, script: &Script) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let length: usize = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("read the request body");
    let request = Recorded { target, headers, body: serde_json::from_slice(&body).unwrap_or(Value::Null) };
    let n = {
        let mut all = seen.lock().expect("lock");
        all.push(request.clone());
        all.len() - 1
    };
    let reply = script(n, &request);
    std::thread::sleep(reply.delay);
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    // The client may have given up (timeout tests): a failed write is expected then.
    let _ = out.write_all(format!("{head}\r\n{}", reply.body).as_bytes());
}

/// A completion whose message content is `content` (a JSON text, or anything for malformed).
pub fn completion(content: &str) -> Reply {
    let body = json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_763_700_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 412, "completion_tokens": 38, "total_tokens": 450}
    });
    Reply { status: 200, headers: Vec::new(), body: body.to_string(), delay: Duration::ZERO }
}

/// A classification the schema allows.
pub fn classification(intent: &str, urgency: &str, language: &str) -> Reply {
    let answer = json!({"intent": intent, "urgency": urgency, "language": language, "confidence": 0.93, "rationale": "test answer"});
    completion(&answer.to_string())
}

/// A refusal, as structured outputs report it: no content, a `refusal` text.
pub fn refusal() -> Reply {
    let body = json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1_763_700_000, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": "I'm sorry, I cannot help with that."},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 400, "completion_tokens": 9, "total_tokens": 409}
    });
    Reply { status: 200, headers: Vec::new(), body: body.to_string(), delay: Duration::ZERO }
}

/// An error response in the API's shape.
pub fn error(status: u16, kind: &str, code: &str, message: &str) -> Reply {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    Reply { status, headers: Vec::new(), body: body.to_string(), delay: Duration::ZERO }
}
