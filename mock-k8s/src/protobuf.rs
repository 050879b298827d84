//! Request bodies in Kubernetes' protobuf encoding, for the kinds typed clients send that way.
//!
//! `kubectl`'s typed clients (`create namespace`, `create token`, `auth can-i`) post
//! `application/vnd.kubernetes.protobuf`: the magic `k8s\0`, then a `runtime.Unknown` envelope
//! (type meta, raw bytes) around the object's generated protobuf message. This module reads that
//! wire format for the messages those commands send (field numbers from the upstream
//! `generated.proto` files) and converts them to the JSON the rest of the emulator handles.
//! Responses stay JSON, which the same clients accept.

use serde_json::{Map, Value, json};

use crate::store::ApiError;

const MAGIC: &[u8] = b"k8s\0";

/// One decoded field value.
#[derive(Clone, Debug)]
enum Field {
    Varint(u64),
    Bytes(Vec<u8>),
}

/// A message as `(field number, value)` pairs, in wire order.
type Message = Vec<(u32, Field)>;

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(out);
        }
    }
    None
}

fn message(buf: &[u8]) -> Option<Message> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let (number, wire) = ((key >> 3) as u32, key & 7);
        let value = match wire {
            0 => Field::Varint(varint(buf, &mut pos)?),
            2 => {
                let len = varint(buf, &mut pos)? as usize;
                let bytes = buf.get(pos..pos.checked_add(len)?)?.to_vec();
                pos += len;
                Field::Bytes(bytes)
            }
            1 => {
                pos += 8;
                Field::Varint(0)
            }
            5 => {
                pos += 4;
                Field::Varint(0)
            }
            _ => return None,
        };
        out.push((number, value));
    }
    Some(out)
}

fn string(m: &Message, n: u32) -> Option<String> {
    m.iter().find_map(|(k, v)| match v {
        Field::Bytes(b) if *k == n => String::from_utf8(b.clone()).ok(),
        _ => None,
    })
}

fn strings(m: &Message, n: u32) -> Vec<String> {
    m.iter()
        .filter_map(|(k, v)| match v {
            Field::Bytes(b) if *k == n => String::from_utf8(b.clone()).ok(),
            _ => None,
        })
        .collect()
}

fn int(m: &Message, n: u32) -> Option<i64> {
    m.iter().find_map(|(k, v)| match v {
        Field::Varint(x) if *k == n => Some(*x as i64),
        _ => None,
    })
}

fn sub(m: &Message, n: u32) -> Option<Message> {
    m.iter().find_map(|(k, v)| match v {
        Field::Bytes(b) if *k == n => message(b),
        _ => None,
    })
}

/// A `map<string, bytes>` field, values base64-encoded as the JSON form carries them.
fn bytes_map(m: &Message, n: u32) -> Map<String, Value> {
    use base64::Engine as _;
    m.iter()
        .filter_map(|(k, v)| match v {
            Field::Bytes(b) if *k == n => {
                let entry = message(b)?;
                let value = entry.iter().find_map(|(k, v)| match v {
                    Field::Bytes(b) if *k == 2 => Some(b.clone()),
                    _ => None,
                });
                Some((
                    string(&entry, 1)?,
                    Value::from(
                        base64::engine::general_purpose::STANDARD.encode(value.unwrap_or_default()),
                    ),
                ))
            }
            _ => None,
        })
        .collect()
}

fn map(m: &Message, n: u32) -> Map<String, Value> {
    m.iter()
        .filter_map(|(k, v)| match v {
            Field::Bytes(b) if *k == n => {
                let entry = message(b)?;
                Some((
                    string(&entry, 1)?,
                    Value::from(string(&entry, 2).unwrap_or_default()),
                ))
            }
            _ => None,
        })
        .collect()
}

/// ObjectMeta: name 1, generateName 2, namespace 3, labels 11, annotations 12.
fn object_meta(m: Option<Message>) -> Value {
    let Some(m) = m else { return json!({}) };
    let mut meta = Map::new();
    for (n, key) in [(1, "name"), (2, "generateName"), (3, "namespace")] {
        if let Some(s) = string(&m, n).filter(|s| !s.is_empty()) {
            meta.insert(key.into(), s.into());
        }
    }
    for (n, key) in [(11, "labels"), (12, "annotations")] {
        let values = map(&m, n);
        if !values.is_empty() {
            meta.insert(key.into(), Value::Object(values));
        }
    }
    Value::Object(meta)
}

fn bad(why: &str) -> ApiError {
    ApiError {
        code: 415,
        reason: "UnsupportedMediaType",
        message: format!("the protobuf body could not be decoded: {why}; send application/json"),
        details: Value::Null,
    }
}

/// Converts a protobuf request body to JSON.
pub fn to_json(body: &[u8]) -> Result<Value, ApiError> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("no k8s magic prefix"))?;
    let unknown = message(rest).ok_or_else(|| bad("malformed envelope"))?;
    let type_meta = sub(&unknown, 1).unwrap_or_default();
    let api_version = string(&type_meta, 1).unwrap_or_default();
    let kind = string(&type_meta, 2).unwrap_or_default();
    let raw = match unknown.iter().find(|(k, _)| *k == 2) {
        Some((_, Field::Bytes(b))) => message(b).ok_or_else(|| bad("malformed object"))?,
        _ => Message::new(),
    };
    let metadata = object_meta(sub(&raw, 1));
    let obj = match kind.as_str() {
        "Namespace" | "ServiceAccount" => {
            json!({"apiVersion": api_version, "kind": kind, "metadata": metadata})
        }
        // ConfigMap: data 2 (map<string,string>), binaryData 3 (map<string,bytes>).
        "ConfigMap" => json!({"apiVersion": api_version, "kind": kind, "metadata": metadata,
            "data": map(&raw, 2), "binaryData": bytes_map(&raw, 3)}),
        // Secret: data 2 (map<string,bytes>), type 3, stringData 4.
        "Secret" => json!({"apiVersion": api_version, "kind": kind, "metadata": metadata,
            "data": bytes_map(&raw, 2), "type": string(&raw, 3).unwrap_or_else(|| "Opaque".into()),
            "stringData": map(&raw, 4)}),
        "TokenRequest" => {
            let spec = sub(&raw, 2).unwrap_or_default();
            let mut s = json!({"audiences": strings(&spec, 1)});
            if let Some(e) = int(&spec, 4) {
                s["expirationSeconds"] = e.into();
            }
            if let Some(b) = sub(&spec, 3) {
                s["boundObjectRef"] = json!({"kind": string(&b, 1), "apiVersion": string(&b, 2),
                    "name": string(&b, 3), "uid": string(&b, 4)});
            }
            json!({"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": s})
        }
        "SelfSubjectAccessReview" => {
            let spec = sub(&raw, 2).unwrap_or_default();
            let mut s = Map::new();
            if let Some(r) = sub(&spec, 1) {
                let f = |n| string(&r, n).unwrap_or_default();
                s.insert(
                    "resourceAttributes".into(),
                    json!({"namespace": f(1), "verb": f(2), "group": f(3),
                    "version": f(4), "resource": f(5), "subresource": f(6), "name": f(7)}),
                );
            }
            if let Some(n) = sub(&spec, 2) {
                s.insert(
                    "nonResourceAttributes".into(),
                    json!({"path": string(&n, 1).unwrap_or_default(),
                    "verb": string(&n, 2).unwrap_or_default()}),
                );
            }
            json!({"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": Value::Object(s)})
        }
        other => {
            return Err(bad(&format!(
                "kind {other:?} is not decoded from protobuf by this emulator"
            )));
        }
    };
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u32, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![((n << 3) | 2) as u8, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn decodes_a_token_request_envelope() {
        let type_meta = [
            field(1, b"authentication.k8s.io/v1"),
            field(2, b"TokenRequest"),
        ]
        .concat();
        let meta = field(1, b"credentials");
        let spec = [
            field(1, b"api://AzureADTokenExchange"),
            vec![4 << 3, 0x90, 0x1c],
        ]
        .concat();
        let raw = [field(1, &meta), field(2, &spec)].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &raw)].concat();
        let v = to_json(&body).unwrap();
        assert_eq!(v["kind"], "TokenRequest");
        assert_eq!(v["metadata"]["name"], "credentials");
        assert_eq!(
            v["spec"]["audiences"],
            json!(["api://AzureADTokenExchange"])
        );
        assert_eq!(v["spec"]["expirationSeconds"], 3600);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert_eq!(to_json(b"{}").unwrap_err().code, 415);
        let type_meta = [field(1, b"apps/v1"), field(2, b"Deployment")].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta)].concat();
        assert!(to_json(&body).unwrap_err().message.contains("Deployment"));
    }
}
