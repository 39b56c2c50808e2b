//! The payload of a push to a tool that keeps each job in a hash of its own
//! and queues only the job's id (RQ): the id, and the hash's fields. It
//! travels to `enqueue.lua` (and to [`Store::push`](super::Store::push)) as
//! one JSON text, `{"push": id, "hash": [field, value, …], "hex": [field,
//! hex, …]}`: fields whose value is not UTF-8 (RQ's pickled `data`) go as
//! hex, which the script decodes, since a script argument here is text.

use serde::{Deserialize, Serialize};

/// A job hash and the id queued for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobHash {
    /// What the tool's list gets, and the hash key's suffix.
    pub id: String,
    /// The hash's fields, in order.
    pub fields: Vec<(String, Vec<u8>)>,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    push: String,
    hash: Vec<String>,
    hex: Vec<String>,
}

impl JobHash {
    /// The JSON the enqueue script takes as this push's payload.
    pub fn to_payload(&self) -> String {
        let mut wire = Wire { push: self.id.clone(), hash: Vec::new(), hex: Vec::new() };
        for (field, value) in &self.fields {
            match std::str::from_utf8(value) {
                Ok(text) => wire.hash.extend([field.clone(), text.to_owned()]),
                Err(_) => {
                    wire.hex.extend([field.clone(), value.iter().map(|b| format!("{b:02x}")).collect()])
                }
            }
        }
        serde_json::to_string(&wire).expect("a job hash always serialises")
    }

    /// The job hash in a payload made by [`JobHash::to_payload`].
    pub fn from_payload(payload: &str) -> Option<JobHash> {
        let wire: Wire = serde_json::from_str(payload).ok()?;
        let mut fields: Vec<(String, Vec<u8>)> =
            wire.hash.chunks_exact(2).map(|p| (p[0].clone(), p[1].clone().into_bytes())).collect();
        for pair in wire.hex.chunks_exact(2) {
            let bytes = (0..pair[1].len())
                .step_by(2)
                .map(|i| u8::from_str_radix(pair[1].get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()?;
            fields.push((pair[0].clone(), bytes));
        }
        Some(JobHash { id: wire.push, fields })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_hash_round_trips_through_its_payload_with_binary_fields_as_hex() {
        let job = JobHash {
            id: "abc".into(),
            fields: vec![("origin".into(), b"default".to_vec()), ("data".into(), vec![0x80, 0x03, 0xff])],
        };
        let payload = job.to_payload();
        assert_eq!(payload, r#"{"push":"abc","hash":["origin","default"],"hex":["data","8003ff"]}"#);
        assert_eq!(JobHash::from_payload(&payload), Some(job));
    }
}
