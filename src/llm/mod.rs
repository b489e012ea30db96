//! The LLM endpoint: the OpenAI chat completions API (or Azure OpenAI, vLLM, Ollama, any
//! server that speaks it) through async-openai, with our timeouts, retries and concurrency, and
//! the tokens and cost of every call counted. Stages ask it for JSON that follows a schema;
//! what the answer means is theirs to check.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::{AzureConfig, Config, OpenAIConfig};
use async_openai::error::OpenAIError;
use async_openai::middleware::ReqwestService;
use async_openai::middleware::retry::OpenAIRetryLayer;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage, CreateChatCompletionRequestArgs, ResponseFormat,
    ResponseFormatJsonSchema,
};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::config::{LlmProvider, LlmSettings};

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("no answer within {0} ms (retries included); raise llm.total_timeout_ms or check the endpoint")]
    Timeout(u64),
    #[error("the endpoint answered HTTP {status}: {message}")]
    Api { status: u16, message: String },
    #[error("cannot reach the endpoint: {0}")]
    Transport(String),
    #[error("the model refused: {0}")]
    Refused(String),
    #[error("the answer was cut off (finish reason `{0}`)")]
    Truncated(String),
    #[error("the answer is not what was asked for: {0}")]
    Malformed(String),
    #[error("the LLM client cannot be built: {0}")]
    Setup(String),
}

/// `<name>-` and the first 12 hex digits of SHA-256 over everything that shapes an answer
/// (instructions, message frame, schema): the prompt version recorded with each result.
pub fn prompt_version(name: &str, parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in parts {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let hex: String = h.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{name}-{hex}")
}

/// Tokens one call used and what they cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// In `llm.currency`, from the configured prices.
    pub cost: f64,
}

/// A JSON answer and what it took.
#[derive(Debug, Clone)]
pub struct Answer {
    pub json: serde_json::Value,
    pub usage: Usage,
    pub latency: Duration,
}

/// What a stage asks: instructions, the message, and the JSON schema the answer must follow.
pub struct Request<'a> {
    pub system: &'a str,
    pub user: &'a str,
    pub schema_name: &'a str,
    pub schema: &'a serde_json::Value,
    pub max_tokens: u32,
}

pub struct Llm {
    client: Client<Box<dyn Config>>,
    model: String,
    settings: LlmSettings,
    /// Calls in flight: a storm of uncertain mail must not open a thousand connections.
    slots: Arc<Semaphore>,
}

impl Llm {
    pub fn new(settings: &LlmSettings) -> Result<Self, LlmError> {
        crate::channels::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms))
            .build()
            .map_err(|e| LlmError::Setup(e.to_string()))?;
        let key = settings.key().map(|k| k.expose().to_string()).unwrap_or_default();
        let config: Box<dyn Config> = match settings.provider {
            LlmProvider::Openai => Box::new(OpenAIConfig::new().with_api_base(settings.base_url.trim_end_matches('/')).with_api_key(key)),
            LlmProvider::Azure => Box::new(
                AzureConfig::new()
                    .with_api_base(settings.base_url.trim_end_matches('/'))
                    .with_deployment_id(&settings.model)
                    .with_api_version(&settings.azure_api_version)
                    .with_api_key(key),
            ),
        };
        // Retries inside the overall timeout: a call never takes longer than total_timeout_ms.
        let service = tower::ServiceBuilder::new()
            .timeout(Duration::from_millis(settings.total_timeout_ms))
            .layer(OpenAIRetryLayer::new(settings.retries))
            .service(ReqwestService::new(http));
        Ok(Self {
            client: Client::build(reqwest::Client::new(), config).with_http_service(service),
            model: settings.model.clone(),
            settings: settings.clone(),
            slots: Arc::new(Semaphore::new(settings.concurrency)),
        })
    }

    /// The model (or Azure deployment) answering.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Asks for a JSON answer that follows `request.schema` (structured output, strict).
    pub async fn json(&self, request: &Request<'_>) -> Result<Answer, LlmError> {
        let body = CreateChatCompletionRequestArgs::default()
            .model(&self.model)
            .messages([
                ChatCompletionRequestSystemMessage::from(request.system).into(),
                ChatCompletionRequestUserMessage::from(request.user).into(),
            ])
            .response_format(ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    description: None,
                    name: request.schema_name.to_string(),
                    schema: request.schema.clone(),
                    strict: Some(true),
                },
            })
            .temperature(0.0)
            .max_completion_tokens(request.max_tokens)
            .build()
            .map_err(|e| LlmError::Setup(e.to_string()))?;
        let _slot = self.slots.acquire().await.map_err(|e| LlmError::Setup(e.to_string()))?;
        let started = Instant::now();
        let response = self.client.chat().create(body).await.map_err(|e| self.error(e))?;
        let latency = started.elapsed();
        let usage = response.usage.as_ref().map_or_else(Usage::default, |u| self.usage(u.prompt_tokens, u.completion_tokens));
        let choice = response.choices.into_iter().next().ok_or_else(|| LlmError::Malformed("no choices".into()))?;
        if let Some(refusal) = choice.message.refusal {
            return Err(LlmError::Refused(refusal));
        }
        match choice.finish_reason.map(|r| format!("{r:?}").to_lowercase()) {
            Some(reason) if reason != "stop" => return Err(LlmError::Truncated(reason)),
            _ => {}
        }
        let content = choice.message.content.ok_or_else(|| LlmError::Malformed("no content".into()))?;
        let json = serde_json::from_str(&content).map_err(|e| LlmError::Malformed(format!("not JSON ({e})")))?;
        Ok(Answer { json, usage, latency })
    }

    fn usage(&self, prompt_tokens: u32, completion_tokens: u32) -> Usage {
        let s = &self.settings;
        let cost = (f64::from(prompt_tokens) * s.price_input_per_million + f64::from(completion_tokens) * s.price_output_per_million) / 1e6;
        Usage { prompt_tokens, completion_tokens, cost }
    }

    fn error(&self, e: OpenAIError) -> LlmError {
        match e {
            OpenAIError::ApiError(api) => LlmError::Api { status: api.status_code.as_u16(), message: api.api_error.message },
            OpenAIError::Reqwest(e) if e.is_timeout() => LlmError::Timeout(self.settings.timeout_ms),
            OpenAIError::Reqwest(e) => LlmError::Transport(e.to_string()),
            OpenAIError::JSONDeserialize(e, _) => LlmError::Malformed(format!("the response is not a chat completion ({e})")),
            // Middleware errors arrive boxed: our overall timeout, or the transport's own error.
            OpenAIError::Boxed(e) => match e.downcast::<OpenAIError>() {
                Ok(inner) => self.error(*inner),
                Err(e) if e.is::<tower::timeout::error::Elapsed>() => LlmError::Timeout(self.settings.total_timeout_ms),
                Err(e) => LlmError::Transport(e.to_string()),
            },
            other => LlmError::Transport(other.to_string()),
        }
    }
}
