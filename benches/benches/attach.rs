//! Worker attach in the core, beside a naive gateway measured in the same run.
//!
//! What: one attach and its detach, so the roster is reused: `Gateway::handle` of a Hello
//! (authenticate in constant time, attach, queue Welcome and the builder list) and of the
//! connection's close, both drained. `gateway+registry` adds what the daemon's core
//! thread does on the Gateway's events: `WorkerConnected` / `WorkerDisconnected` in the
//! Registry. Workers go round robin through a roster of 1,000, each connection id new, and
//! the clock moves one millisecond per round of the roster (each worker attaches at most
//! once per millisecond; see BENCHMARKS.md for what a standing clock does).
//! The Hello is built outside the timing (on the daemon it comes decoded off the wire).
//! Baseline: `NaiveGateway`, a hash map lookup, a password `==` and a map insert: the
//! least any gateway can do for an attach.
//!
//! Run: `cargo bench -p rollcall-benches --bench attach`

mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rollcall_benches::fixture::{
    bench_builders_shared, drain, gateway_of, hello, master_active, worker_name, START,
    WORKER_PASSWORD,
};
use rollcall_benches::naive::NaiveGateway;
use rollcall_core::registry::RegistryInput;
use rollcall_core::{
    Command, ConnectionId, Gateway, GatewayEvent, GatewayInput, GatewayOutput, MasterId, Registry,
    RegistryConfig, ReplyToken, Timestamp,
};

const ROSTER: usize = 1_000;

/// Drains the Gateway, counting the messages it asks to send and handing its events on.
fn drain_gateway(gateway: &mut Gateway, mut on_event: impl FnMut(GatewayEvent)) -> usize {
    let mut sent = 0;
    while let Some(output) = gateway.poll_output() {
        match output {
            GatewayOutput::Send { .. } => sent += 1,
            GatewayOutput::Close { .. } => {}
            GatewayOutput::Event(event) => on_event(event),
        }
    }
    sent
}

/// The Registry half of the daemon's work for an attach or detach event.
fn record_in_registry(
    registry: &mut Registry,
    now: Timestamp,
    master: MasterId,
    event: GatewayEvent,
) {
    let command = match event {
        GatewayEvent::Attached { worker, connection } => {
            Command::WorkerConnected { master, worker_name: worker, connection }
        }
        GatewayEvent::Detached { worker, connection, .. } => {
            Command::WorkerDisconnected { master, worker_name: worker, connection }
        }
        _ => return,
    };
    registry.handle(now, RegistryInput { token: ReplyToken(0), command });
    drain(registry, &mut Vec::new());
}

/// The moment of the `connection`th attach: one millisecond later per round of the roster.
fn moment(connection: u64) -> Timestamp {
    START.plus_millis(connection / ROSTER as u64)
}

fn attaches(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("attach");
    group.throughput(Throughput::Elements(1));

    let mut gateway = gateway_of(ROSTER);
    let mut next_connection = 0_u64;
    group.bench_function("rollcall-gateway", |bencher| {
        bencher.iter_batched(
            || {
                next_connection += 1;
                let now = moment(next_connection);
                (now, next_connection, hello(next_connection, next_connection as usize % ROSTER))
            },
            |(now, connection, hello)| {
                gateway.handle(now, hello);
                let sent = drain_gateway(&mut gateway, |_| {});
                assert_eq!(sent, 2, "a Welcome and a builder list");
                gateway.handle(now, GatewayInput::Closed { connection: ConnectionId(connection) });
                drain_gateway(&mut gateway, |_| {});
            },
            BatchSize::SmallInput,
        );
    });

    let mut gateway = gateway_of(ROSTER);
    let mut registry = Registry::new(RegistryConfig::default());
    master_active(&mut registry, START, "bench:/srv/rollcall".to_owned());
    drain(&mut registry, &mut Vec::new());
    let master = MasterId(1);
    group.bench_function("rollcall-gateway+registry", |bencher| {
        bencher.iter_batched(
            || {
                next_connection += 1;
                let now = moment(next_connection);
                (now, next_connection, hello(next_connection, next_connection as usize % ROSTER))
            },
            |(now, connection, hello)| {
                gateway.handle(now, hello);
                drain_gateway(&mut gateway, |event| {
                    record_in_registry(&mut registry, now, master, event)
                });
                gateway.handle(now, GatewayInput::Closed { connection: ConnectionId(connection) });
                drain_gateway(&mut gateway, |event| {
                    record_in_registry(&mut registry, now, master, event)
                });
            },
            BatchSize::SmallInput,
        );
    });

    let mut naive = NaiveGateway::default();
    let builders = bench_builders_shared();
    for index in 0..ROSTER {
        naive.add_worker(&worker_name(index), WORKER_PASSWORD, builders.clone());
    }
    let mut replies = Vec::new();
    group.bench_function("naive", |bencher| {
        bencher.iter_batched(
            || {
                next_connection += 1;
                (next_connection, worker_name(next_connection as usize % ROSTER))
            },
            |(connection, name)| {
                naive.hello(connection, name, WORKER_PASSWORD, &mut replies);
                assert_eq!(replies.len(), 2, "a Welcome and a builder list");
                replies.clear();
                naive.closed(connection);
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group! { name = benches; config = common::settings(); targets = attaches }
criterion_main!(benches);
