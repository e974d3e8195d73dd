//! The sandbox's contract over real HTTP, and how ConnectClient classifies
//! each kind of answer.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use snapact_host::sandbox::SandboxConfig;
use snapact_host::snapact::{ConnectClient, ConnectConfig, ItemOutcome, SendError, UpsertItem};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::{Served, item, sandbox_config};

fn upsert_item(i: usize) -> UpsertItem {
    UpsertItem {
        item: item(i),
        verified_at: SystemTime::now(),
    }
}

async fn post(url: &str, key: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{url}/connect/v1/catalog/items"))
        .json(&body);
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn valid(r: &str) -> Value {
    json!({"external_ref": r, "name": "Rice 1kg", "price_minor": 150000, "currency": "NGN",
           "quantity": 4, "availability": "in-stock", "verified_at": "2026-11-27T06:00:00.000Z"})
}

#[tokio::test]
async fn keys_are_checked_and_map_to_separate_tenants() {
    let served = Served::start(sandbox_config(&["shop-a=key-a", "shop-b=key-b"])).await;
    let body = json!({"items": [valid("SAME")]});
    assert_eq!(post(&served.url, None, body.clone()).await.0, 401);
    assert_eq!(post(&served.url, Some("nope"), body.clone()).await.0, 401);
    assert_eq!(post(&served.url, Some("key-a"), body.clone()).await.0, 200);
    // The alternative header SnapAct documents.
    let resp = reqwest::Client::new()
        .post(format!("{}/connect/v1/catalog/items", served.url))
        .header("X-SnapAct-API-Key", "key-b")
        .json(&json!({"items": [valid("SAME"), valid("ONLY-B")]}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(served.sandbox.items(Some("shop-a")).len(), 1);
    assert_eq!(served.sandbox.items(Some("shop-b")).len(), 2);
    let listed: Vec<Value> = reqwest::get(format!("{}/sandbox/items?tenant=shop-b", served.url))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(listed, served.sandbox.items(Some("shop-b")));
    let stats: Value = reqwest::get(format!("{}/sandbox/stats", served.url))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["requests"], json!({"200": 2, "401": 2}));
    assert_eq!(stats["items_upserted"], 3);
    served.stop().await;
}

#[tokio::test]
async fn each_item_is_validated_and_rejected_with_a_reason() {
    let served = Served::start(sandbox_config(&["shop-a=key-a"])).await;
    let mut no_price = valid("NP");
    no_price["price_minor"] = Value::Null;
    let mut on_request = valid("OR");
    on_request["price_minor"] = Value::Null;
    on_request["currency"] = Value::Null;
    on_request["availability"] = json!("on-request");
    let mut spelled = valid("SP");
    spelled["availability"] = json!("InStock");
    let mut negative = valid("NEG");
    negative["price_minor"] = json!(-5);
    let mut fractional_qty = valid("FQ");
    fractional_qty["quantity"] = json!(1.5);
    let body = json!({"items": [valid("OK"), no_price, on_request, spelled, negative,
        fractional_qty, valid(""), valid(&"x".repeat(256))]});
    let (status, answer) = post(&served.url, Some("key-a"), body).await;
    assert_eq!(status, 200);
    let results = answer["results"].as_array().expect("results");
    let expect = [
        ("upserted", ""),
        (
            "rejected",
            "price_minor: null is only allowed with availability \"on-request\"",
        ),
        ("upserted", ""),
        (
            "rejected",
            "availability: \"InStock\" is not one of in-stock, low-stock",
        ),
        (
            "rejected",
            "price_minor: must be an integer >= 0 in minor units (got -5)",
        ),
        ("rejected", "quantity: must be an integer or null (got 1.5)"),
        ("rejected", "external_ref: must not be empty"),
        ("rejected", "external_ref: longer than 255 characters"),
    ];
    assert_eq!(results.len(), expect.len());
    for (r, (status, reason)) in results.iter().zip(expect) {
        assert_eq!(r["status"], status, "{r}");
        let got = r["error"].as_str().unwrap_or("");
        assert!(
            got.starts_with(reason),
            "{got:?} should start with {reason:?}"
        );
    }
    let too_many: Vec<Value> = (0..101).map(|i| valid(&format!("R{i}"))).collect();
    let (status, answer) = post(&served.url, Some("key-a"), json!({"items": too_many})).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .expect("error")
            .contains("limit of 100")
    );
    served.stop().await;
}

#[tokio::test]
async fn nearby_inventory_finds_items_in_stock_by_name() {
    let served = Served::start(sandbox_config(&["shop-a=key-a"])).await;
    let mut sold_out = valid("R2");
    sold_out["quantity"] = json!(0);
    let mut beans = valid("B1");
    beans["name"] = json!("Beans");
    post(
        &served.url,
        Some("key-a"),
        json!({"items": [valid("R1"), sold_out, beans]}),
    )
    .await;
    let nearby: Value = reqwest::get(format!(
        "{}/inventory/nearby?lat=6.45&lng=3.39&product=rice",
        served.url
    ))
    .await
    .expect("get")
    .json()
    .await
    .expect("json");
    let refs: Vec<_> = nearby["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["shop"].as_str().expect("shop"),
                r["external_ref"].as_str().expect("ref"),
            )
        })
        .collect();
    assert_eq!(refs, [("shop-a", "R1")]);
    let bad = reqwest::get(format!(
        "{}/inventory/nearby?lat=north&lng=3&product=rice",
        served.url
    ))
    .await
    .expect("get");
    assert_eq!(bad.status().as_u16(), 400);
    let msg: Value = bad.json().await.expect("json");
    assert!(msg["error"].as_str().expect("error").starts_with("lat:"));
    served.stop().await;
}

#[tokio::test]
async fn client_classifies_every_kind_of_answer() {
    // Accepted and rejected items, and deletes (404 counts as deleted).
    let served = Served::start(sandbox_config(&["shop-a=key-a"])).await;
    let client = served.client("key-a");
    let mut bad = upsert_item(2);
    bad.item.name = " ".into();
    let outcomes = client
        .upsert(&[upsert_item(1), bad])
        .await
        .expect("answered");
    assert_eq!(
        outcomes,
        [
            ItemOutcome::Accepted,
            ItemOutcome::Rejected("name: must not be empty".into())
        ]
    );
    client.delete("V00001").await.expect("deleted");
    client.delete("V00001").await.expect("already gone is fine");
    let wrong = served.client("wrong");
    assert_eq!(
        wrong.upsert(&[upsert_item(1)]).await,
        Err(SendError::Unauthorized { status: 401 })
    );
    served.stop().await;

    // 5xx and dropped connections are transient; a dropped batch was applied.
    let failing = Served::start(SandboxConfig {
        fail_rate: 1.0,
        ..sandbox_config(&["k"])
    })
    .await;
    let err = failing
        .client("k")
        .upsert(&[upsert_item(1)])
        .await
        .expect_err("503");
    assert!(
        matches!(&err, SendError::Transient(m) if m.starts_with("HTTP 503")),
        "{err:?}"
    );
    failing.stop().await;
    let dropping = Served::start(SandboxConfig {
        drop_after_apply_rate: 1.0,
        ..sandbox_config(&["k"])
    })
    .await;
    let err = dropping
        .client("k")
        .upsert(&[upsert_item(1)])
        .await
        .expect_err("dropped");
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    assert_eq!(
        dropping.sandbox.items(None).len(),
        1,
        "applied before the drop"
    );
    assert_eq!(dropping.sandbox.stats().requests_with("dropped"), 1);
    dropping.stop().await;

    // 429 carries Retry-After.
    let limited = Served::start(SandboxConfig {
        rate_limit_per_min: Some(1),
        ..sandbox_config(&["k"])
    })
    .await;
    let client = limited.client("k");
    client
        .upsert(&[upsert_item(1)])
        .await
        .expect("first is free");
    let err = client.upsert(&[upsert_item(2)]).await.expect_err("limited");
    let SendError::RateLimited { retry_after } = err else {
        panic!("{err:?}");
    };
    assert!(retry_after >= Duration::from_secs(59) && retry_after <= Duration::from_secs(60));
    limited.stop().await;
}

/// A server that answers every request with `response`, verbatim.
async fn canned(response: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = vec![0u8; 64 * 1024];
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    url
}

#[tokio::test]
async fn unreadable_answers_and_other_4xx_are_permanent() {
    let url =
        canned("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello").await;
    let client =
        ConnectClient::new(&ConnectConfig::new(&url), "k".to_owned().into()).expect("client");
    let err = client.upsert(&[upsert_item(1)]).await.expect_err("garbage");
    assert!(
        matches!(&err, SendError::Permanent(m) if m.contains("not an upsert result") && m.contains("hello")),
        "{err:?}"
    );
    let url = canned(
        "HTTP/1.1 422 Unprocessable Entity\r\nContent-Type: application/json\r\nContent-Length: 24\r\nConnection: close\r\n\r\n{\"error\":\"bad shape!!\"}\n",
    )
    .await;
    let client =
        ConnectClient::new(&ConnectConfig::new(&url), "k".to_owned().into()).expect("client");
    assert_eq!(
        client.upsert(&[upsert_item(1)]).await,
        Err(SendError::Permanent("HTTP 422: bad shape!!".into()))
    );
    let url = canned(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    let client =
        ConnectClient::new(&ConnectConfig::new(&url), "k".to_owned().into()).expect("client");
    assert_eq!(
        client.upsert(&[upsert_item(1)]).await,
        Err(SendError::RateLimited {
            retry_after: Duration::ZERO
        }),
        "a date in the past means now"
    );
}
