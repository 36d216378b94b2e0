//! The wire format of every protocol type: what the JSON looks like and that it reads back.

use protocol::{ComponentStatus, ErrorBody, ErrorCode, Health, HealthStatus};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Serialises `value`, checks it equals `expected`, and checks it reads back to `value`.
fn check<T>(value: T, expected: Value)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let written = serde_json::to_value(&value).expect("serialises");
    assert_eq!(written, expected);
    let read: T = serde_json::from_value(written).expect("deserialises");
    assert_eq!(read, value);
}

#[test]
fn health_has_the_documented_shape() {
    check(
        Health {
            status: HealthStatus::Ok,
            version: "1.2.3".into(),
            database: ComponentStatus::Ok,
        },
        json!({"status": "ok", "version": "1.2.3", "database": "ok"}),
    );
}

#[test]
fn error_body_is_the_envelope() {
    check(
        ErrorBody::new(ErrorCode::NotFound, "There is nothing at /api/nope."),
        json!({"error": {"code": "not_found", "message": "There is nothing at /api/nope."}}),
    );
}

/// The names of every variant of a type that serde deserializes as an enum, as serde's derive
/// lists them (it hands the list to `deserialize_enum`). A test can then compare a hand-written
/// list such as [`ErrorCode::ALL`] with the enum itself.
fn variant_names<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{Error, Visitor, value};

    struct Names(Option<&'static [&'static str]>);
    impl<'de> serde::Deserializer<'de> for &mut Names {
        type Error = value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, value::Error> {
            Err(value::Error::custom("not an enum"))
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, value::Error> {
            self.0 = Some(variants);
            Err(value::Error::custom("only the names were wanted"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
            ignored_any
        }
    }
    let mut names = Names(None);
    let _ = T::deserialize(&mut names);
    names.0.expect("an enum")
}

#[test]
fn all_lists_every_code_the_server_sends_once() {
    let listed: Vec<&str> = ErrorCode::ALL.into_iter().map(ErrorCode::as_str).collect();
    let declared: Vec<&str> = variant_names::<ErrorCode>()
        .iter()
        .copied()
        // Never sent, so not in `ALL`.
        .filter(|name| *name != ErrorCode::Unknown.as_str())
        .collect();
    assert_eq!(listed, declared);
}

#[test]
fn every_error_code_round_trips_as_its_snake_case_name() {
    for code in ErrorCode::ALL {
        let written = serde_json::to_value(code).expect("serialises");
        assert_eq!(written, json!(code.as_str()));
        assert_eq!(code.to_string(), code.as_str());
        let read: ErrorCode = serde_json::from_value(written).expect("deserialises");
        assert_eq!(read, code);
    }
}

#[test]
fn an_error_code_from_a_newer_server_reads_as_unknown() {
    let body: ErrorBody = serde_json::from_value(
        json!({"error": {"code": "brand_new_code", "message": "Something new."}}),
    )
    .expect("deserialises");
    assert_eq!(body.error.code, ErrorCode::Unknown);
    assert_eq!(body.error.message, "Something new.");
}

#[test]
fn only_transient_errors_are_retryable() {
    let retryable: Vec<_> = ErrorCode::ALL
        .into_iter()
        .filter(|c| c.is_retryable())
        .collect();
    assert_eq!(
        retryable,
        [
            ErrorCode::RequestTimeout,
            ErrorCode::RequestInProgress,
            ErrorCode::TooManyRequests,
            ErrorCode::InjectedFailure,
            ErrorCode::Unavailable
        ]
    );
}

mod lab {
    use super::check;
    use protocol::lab::{ECHO_FIELDS, EchoRequest, EchoResponse, Fault, LabStats};
    use serde_json::json;

    #[test]
    fn echo_request_fields_default_to_zero() {
        let read: EchoRequest = serde_json::from_value(json!({})).expect("deserialises");
        assert_eq!(read, EchoRequest::default());
        check(
            EchoRequest {
                delay_ms: 250,
                jitter_ms: 50,
                fail_rate: 0.5,
                bytes: 10,
                seq: Some(7),
                ..EchoRequest::default()
            },
            json!({"delay_ms": 250, "jitter_ms": 50, "fail_rate": 0.5, "bytes": 10, "seq": 7}),
        );
        check(
            EchoRequest {
                fail_rate: 0.3,
                seq: Some(7),
                run: Some(2),
                fault: Fault::TooMany,
                fail_first: 2,
                seed: Some(42),
                ..EchoRequest::default()
            },
            json!({"delay_ms": 0, "jitter_ms": 0, "fail_rate": 0.3, "bytes": 0, "seq": 7, "run": 2,
                   "fault": "too_many", "fail_first": 2, "seed": 42}),
        );
        for fault in Fault::ALL {
            let read: EchoRequest = serde_json::from_value(json!({"fault": fault.key()}))
                .expect("each fault by its key");
            assert_eq!(read.fault, fault);
        }
    }

    #[test]
    fn echo_request_rejects_unknown_fields() {
        let err = serde_json::from_value::<EchoRequest>(json!({"delay": 5})).expect_err("rejected");
        assert!(err.to_string().contains("unknown field `delay`"), "{err}");
    }

    #[test]
    fn every_echo_field_has_an_allowed_range_in_words() {
        for field in ECHO_FIELDS {
            assert!(EchoRequest::allowed(field).is_some(), "{field}");
        }
        assert_eq!(EchoRequest::allowed("nope"), None);
    }

    /// `(request, the field named in the error or None when valid)`.
    #[test]
    fn validation_names_the_first_field_out_of_range() {
        let base = EchoRequest::default();
        let cases = [
            (base, None),
            (
                EchoRequest {
                    delay_ms: 30_000,
                    jitter_ms: 10_000,
                    fail_rate: 1.0,
                    bytes: 262_144,
                    ..base
                },
                None,
            ),
            (
                EchoRequest {
                    delay_ms: 30_001,
                    ..base
                },
                Some("delay_ms"),
            ),
            (
                EchoRequest {
                    jitter_ms: 10_001,
                    ..base
                },
                Some("jitter_ms"),
            ),
            (
                EchoRequest {
                    fail_rate: 1.01,
                    ..base
                },
                Some("fail_rate"),
            ),
            (
                EchoRequest {
                    fail_rate: -0.1,
                    ..base
                },
                Some("fail_rate"),
            ),
            (
                EchoRequest {
                    fail_rate: f64::NAN,
                    ..base
                },
                Some("fail_rate"),
            ),
            (
                EchoRequest {
                    bytes: 262_145,
                    ..base
                },
                Some("bytes"),
            ),
        ];
        for (request, expected) in cases {
            let got = request.validate().err().map(|e| e.field);
            assert_eq!(got, expected, "{request:?}");
        }
        let message = EchoRequest {
            delay_ms: 99_999,
            ..base
        }
        .validate()
        .expect_err("rejected")
        .to_string();
        assert_eq!(
            message,
            "`delay_ms` must be a whole number of milliseconds from 0 to 30000."
        );
    }

    #[test]
    fn a_countdown_is_bounded_and_its_ticks_have_the_documented_shape() {
        use protocol::lab::{Tick, TicksRequest};
        let ok = TicksRequest {
            count: 100,
            interval_ms: 10,
        };
        assert_eq!(ok.validate(), Ok(()));
        for (request, field) in [
            (TicksRequest { count: 0, ..ok }, "count"),
            (TicksRequest { count: 101, ..ok }, "count"),
            (
                TicksRequest {
                    interval_ms: 9,
                    ..ok
                },
                "interval_ms",
            ),
            (
                TicksRequest {
                    interval_ms: 5_001,
                    ..ok
                },
                "interval_ms",
            ),
        ] {
            assert_eq!(request.validate().map_err(|e| e.field), Err(field));
        }
        check(ok, json!({"count": 100, "interval_ms": 10}));
        check(Tick { n: 2, remaining: 3 }, json!({"n": 2, "remaining": 3}));
    }

    #[test]
    fn echo_response_and_stats_have_the_documented_shape() {
        check(
            EchoResponse {
                seq: Some(3),
                delay_ms: 120,
                received_at_ms: 1_000,
                responded_at_ms: 1_120,
                padding: "xx".into(),
            },
            json!({"seq": 3, "delay_ms": 120, "received_at_ms": 1000, "responded_at_ms": 1120, "padding": "xx"}),
        );
        check(
            LabStats {
                instance: "web-1:3000".into(),
                served: 1,
                failed_injected: 2,
                abandoned: 3,
                in_flight: 4,
            },
            json!({"instance": "web-1:3000", "served": 1, "failed_injected": 2, "abandoned": 3, "in_flight": 4}),
        );
    }
}

mod search {
    use super::check;
    use protocol::search::{CharacterHit, SearchQuery, SearchResults, ValidSearch};
    use serde_json::json;

    #[test]
    fn results_have_the_documented_shape() {
        check(
            SearchResults {
                query: "snowman".into(),
                total: 2,
                took_us: 180,
                items: vec![CharacterHit {
                    codepoint: "U+2603".into(),
                    char: "☃".into(),
                    name: "SNOWMAN".into(),
                    block: "Miscellaneous Symbols".into(),
                    matches: vec![[0, 7]],
                }],
            },
            json!({"query": "snowman", "total": 2, "took_us": 180, "items": [{
                "codepoint": "U+2603", "char": "☃", "name": "SNOWMAN",
                "block": "Miscellaneous Symbols", "matches": [[0, 7]]
            }]}),
        );
    }

    #[test]
    fn a_query_takes_its_defaults_and_names_what_is_out_of_range() {
        let query = |value| serde_json::from_value::<SearchQuery>(value).expect("reads");
        assert_eq!(
            query(json!({"q": "snow"})).validate(),
            Ok(ValidSearch {
                q: "snow".into(),
                limit: 20,
                offset: 0,
                delay_ms: 0
            })
        );
        for (value, field) in [
            (json!({"q": "a".repeat(101)}), "q"),
            (json!({"limit": 0}), "limit"),
            (json!({"limit": 101}), "limit"),
            (json!({"offset": -1}), "offset"),
            (json!({"delay_ms": 30_001}), "delay_ms"),
        ] {
            assert_eq!(
                query(value.clone()).validate().map_err(|e| e.field),
                Err(field),
                "{value}"
            );
        }
        // A hundred characters, not bytes: "☃" is three bytes.
        assert!(query(json!({"q": "☃".repeat(100)})).validate().is_ok());
    }
}

#[test]
fn a_job_has_the_documented_shape() {
    use protocol::jobs::{
        Job, JobEvent, JobProgress, JobResult, JobSpec, JobState, NewJob, Primes,
    };
    let new: NewJob =
        serde_json::from_value(json!({"kind": "primes", "params": {"limit": 100_000_000}}))
            .expect("the issue's example reads");
    assert_eq!(new.spec, JobSpec::Primes(Primes { limit: 100_000_000 }));
    new.validate().expect("in range");
    for (field, extra) in [
        ("owner", json!({"owner": "tab-1"})),
        ("ownr", json!({"ownr": "me"})),
    ] {
        let mut body = json!({"kind": "primes", "params": {"limit": 100_000_000}});
        body.as_object_mut()
            .expect("an object")
            .extend(extra.as_object().expect("an object").clone());
        let error = serde_json::from_value::<NewJob>(body).expect_err("an unknown field");
        assert!(error.to_string().contains(field), "{error}");
    }

    let job = Job {
        id: "abc".into(),
        spec: JobSpec::Primes(Primes { limit: 1_000_000 }),
        state: JobState::Succeeded,
        progress: 1.0,
        created_at_ms: 1,
        started_at_ms: Some(2),
        finished_at_ms: Some(3),
        attempts: 1,
        result: Some(JobResult::Primes { count: 78_498 }),
        error: None,
    };
    check(
        job.clone(),
        json!({"id": "abc", "kind": "primes", "params": {"limit": 1_000_000},
               "state": "succeeded", "progress": 1.0, "created_at_ms": 1, "started_at_ms": 2,
               "finished_at_ms": 3, "attempts": 1, "result": {"count": 78_498}}),
    );
    assert_eq!(JobEvent::Finished(job).name(), "finished");
    check(
        JobEvent::Progress(JobProgress {
            id: "abc".into(),
            state: JobState::Running,
            progress: 0.5,
            started_at_ms: Some(2),
            attempts: 1,
        }),
        json!({"type": "progress", "data": {"id": "abc", "state": "running", "progress": 0.5,
               "started_at_ms": 2, "attempts": 1}}),
    );
    for result in [
        JobResult::Hashchain { hash: "ff".into() },
        JobResult::Mandelbrot {
            width: 16,
            height: 16,
            png_bytes: 99,
        },
        JobResult::Wait { waited_seconds: 3 },
    ] {
        let read: JobResult =
            serde_json::from_value(serde_json::to_value(&result).expect("writes")).expect("reads");
        assert_eq!(read, result);
    }
}
