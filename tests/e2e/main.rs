//! The end-to-end tests against real MariaDB sandboxes, linked as one test program: one link and
//! one binary instead of one per file keeps CI's build small. Tests that measure the whole
//! process (peak memory, the global metrics registry) or load the machine (sysbench) stay in
//! programs of their own beside this one.

#[path = "../common/mod.rs"]
mod common;

mod admin;
mod catch_up;
mod connections;
mod deploy_files;
mod differential;
mod explain;
mod foundation;
mod hardening;
mod insert_select;
mod joins;
mod last_insert_id_keys;
mod limited_writes;
mod lookup_faults;
mod lookup_writes;
mod lookups;
mod mariadb_suite;
mod materialize;
mod moving_updates;
mod omitted_keys;
mod pass_through_auth;
mod pinning;
mod prepared;
mod prepared_scatter;
mod protocol_fidelity;
mod pushdown;
mod reading;
mod reload;
mod replicas;
mod reshard;
mod reshard_copy;
mod reshard_cutover;
mod reshard_live;
mod reshard_proxies;
mod returning;
mod robustness;
mod sandbox_cli;
mod scatter;
mod scatter_aggregates;
mod schema_cache;
mod sequences;
mod session_state;
mod set_operations;
mod statement_clock;
mod statements;
mod timeouts;
mod tls;
mod transaction_mode;
mod types;
mod views;
mod write_subqueries;
