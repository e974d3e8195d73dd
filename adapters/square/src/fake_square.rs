//! A fake Square for native tests of the flows: serves queued answers per
//! path and records every request it receives.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;
use snapact_adapter_sdk::AdapterError;

use crate::client::Square;

#[derive(Default)]
pub struct FakeSquare {
    answers: HashMap<String, VecDeque<Result<Vec<u8>, AdapterError>>>,
    /// Every request, in order: path and JSON body.
    pub requests: Vec<(String, Value)>,
}

impl FakeSquare {
    /// Queue a 2xx answer with `body` for the next request to `path`.
    pub fn answer(&mut self, path: &str, body: Value) -> &mut Self {
        self.answers
            .entry(path.to_string())
            .or_default()
            .push_back(Ok(body.to_string().into_bytes()));
        self
    }

    /// Queue a failure for the next request to `path`.
    pub fn fail(&mut self, path: &str, error: AdapterError) -> &mut Self {
        self.answers
            .entry(path.to_string())
            .or_default()
            .push_back(Err(error));
        self
    }

    /// The bodies sent to `path`.
    pub fn sent(&self, path: &str) -> Vec<&Value> {
        self.requests
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b)
            .collect()
    }
}

impl Square for FakeSquare {
    fn post(&mut self, path: &str, body: &Value) -> Result<Vec<u8>, AdapterError> {
        self.requests.push((path.to_string(), body.clone()));
        self.answers
            .get_mut(path)
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| panic!("the fake Square has no answer queued for {path}: {body}"))
    }
}
