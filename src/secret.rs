//! Secrets from the configuration (passwords, client secrets, tokens): never printed, never
//! logged. In TOML a secret is either the value itself or `{ env = "VARIABLE" }`.

use std::fmt;

use serde::Deserialize;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself: only where it is handed to a protocol.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Value(String),
            Env { env: String },
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected a string or { env = \"VARIABLE\" }")
        })? {
            Raw::Value(v) => Ok(Secret(v)),
            Raw::Env { env } => std::env::var(&env)
                .map(Secret)
                .map_err(|_| serde::de::Error::custom(format!("environment variable {env} is not set"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        s: Secret,
    }

    #[test]
    fn literal_or_environment_and_never_printed() {
        let t: T = toml::from_str("s = \"hunter2\"").unwrap();
        assert_eq!(t.s.expose(), "hunter2");
        assert_eq!(format!("{:?}", t.s), "Secret(***)");
        // SAFETY: test-only, single-threaded use of a unique variable name.
        unsafe { std::env::set_var("SWITCHYARD_TEST_SECRET_1", "from-env") };
        let t: T = toml::from_str("s = { env = \"SWITCHYARD_TEST_SECRET_1\" }").unwrap();
        assert_eq!(t.s.expose(), "from-env");
        let err = toml::from_str::<T>("s = { env = \"SWITCHYARD_TEST_SECRET_UNSET\" }").err().unwrap().to_string();
        assert!(err.contains("SWITCHYARD_TEST_SECRET_UNSET is not set"), "{err}");
    }
}
