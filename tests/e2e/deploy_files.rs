//! The deploy/ artefacts, the Dockerfile and docker-compose.yml: each file parses, refers only
//! to things that exist (metrics, services, files, ports), and carries the seeds' alert
//! thresholds. Docker, Kubernetes and systemd cannot run here, so these checks stand in for
//! them; `promtool` checks the Prometheus files too when it is installed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use promql_parser::parser::{self as promql, Expr};
use promql_parser::util::{walk_expr, ExprVisitor};
use serde_yaml_ng::Value as Yaml;
use shardgate_config::Topology;

/// The metrics issue #6 lists, which every query in deploy/ must be limited to.
const METRICS: &[&str] = &[
    "shardgate_queries_total",
    "shardgate_query_duration_seconds",
    "shardgate_backend_query_duration_seconds",
    "shardgate_errors_total",
    "shardgate_client_connections",
    "shardgate_pool_connections",
    "shardgate_pool_wait_seconds",
    "shardgate_pool_exhausted_total",
    "shardgate_replica_lag_seconds",
    "shardgate_backend_up",
    "shardgate_hotspot_score",
    "shardgate_config_reloads_total",
    "shardgate_topology_version",
];

/// The histograms among [`METRICS`]: queries read their `_bucket`, `_sum` and `_count` series.
const HISTOGRAMS: &[&str] = &[
    "shardgate_query_duration_seconds",
    "shardgate_backend_query_duration_seconds",
    "shardgate_pool_wait_seconds",
];

/// Series Prometheus writes itself for every scrape target.
const SCRAPE_SERIES: &[&str] = &["up"];

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(relative: &str) -> String {
    let path = repo_path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One YAML document (several in one file would be an error here: each manifest is one file).
fn yaml(relative: &str) -> Yaml {
    serde_yaml_ng::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn str_at<'a>(value: &'a Yaml, key: &str, context: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{context}: `{key}` is not a string: {:?}", value[key]))
}

fn seq_at<'a>(value: &'a Yaml, key: &str, context: &str) -> &'a [Yaml] {
    value[key]
        .as_sequence()
        .unwrap_or_else(|| panic!("{context}: `{key}` is not a list: {:?}", value[key]))
}

fn parse_config(text: &str, name: &str) -> Topology {
    shardgate_config::parse(text, name).unwrap_or_else(|e| panic!("{name} is not valid:\n{e}"))
}

/// The port of a `host:port` address.
fn port_of(address: &str) -> u16 {
    let (_, port) = address
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{address}: no port"));
    port.parse()
        .unwrap_or_else(|e| panic!("{address}: bad port: {e}"))
}

fn metrics_port(topology: &Topology, name: &str) -> u16 {
    let address = topology
        .server
        .metrics_listen
        .as_deref()
        .unwrap_or_else(|| panic!("{name}: no [server] metrics_listen"));
    port_of(address)
}

/// Collects the metric name of every selector in a PromQL expression.
#[derive(Default)]
struct SelectorNames(BTreeSet<String>);

impl ExprVisitor for SelectorNames {
    type Error = String;

    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, String> {
        let selector = match expr {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(ms) => &ms.vs,
            _ => return Ok(true),
        };
        let name = selector
            .name
            .clone()
            .ok_or_else(|| format!("selector without a metric name: {selector}"))?;
        self.0.insert(name);
        Ok(true)
    }
}

/// Parses `expr` and returns the metric names it reads; panics naming `context` when the
/// expression does not parse or reads a metric shardgate does not export.
fn checked_metric_names(expr: &str, context: &str) -> BTreeSet<String> {
    let ast = promql::parse(expr).unwrap_or_else(|e| panic!("{context}: bad PromQL {expr:?}: {e}"));
    let mut names = SelectorNames::default();
    walk_expr(&mut names, &ast).unwrap_or_else(|e| panic!("{context}: {e}"));
    for name in &names.0 {
        assert!(
            is_known_series(name),
            "{context}: {name:?} is not a shardgate metric (expr {expr:?})"
        );
    }
    names.0
}

fn is_known_series(name: &str) -> bool {
    if METRICS.contains(&name) || SCRAPE_SERIES.contains(&name) {
        return true;
    }
    ["_bucket", "_sum", "_count"].iter().any(|suffix| {
        name.strip_suffix(suffix)
            .is_some_and(|base| HISTOGRAMS.contains(&base))
    })
}

fn unparen(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(p) => unparen(&p.expr),
        other => other,
    }
}

/// An alert's condition `LHS <op> NUMBER`, the shape every rule in alerts.yml has.
#[derive(Debug)]
struct Condition {
    op: String,
    threshold: f64,
    /// `q` when the left side is `histogram_quantile(q, …)`.
    quantile: Option<f64>,
}

fn condition(expr: &str, context: &str) -> Condition {
    let ast = promql::parse(expr).unwrap_or_else(|e| panic!("{context}: {e}"));
    let Expr::Binary(binary) = unparen(&ast) else {
        panic!("{context}: expected `… <comparison> <number>`, got {expr:?}");
    };
    assert!(binary.op.is_comparison_operator(), "{context}: {expr:?}");
    let Expr::NumberLiteral(threshold) = unparen(&binary.rhs) else {
        panic!("{context}: the right side of {expr:?} is not a number");
    };
    let quantile = match unparen(&binary.lhs) {
        Expr::Call(call) if call.func.name == "histogram_quantile" => {
            match call.args.args.first().map(|arg| unparen(arg)) {
                Some(Expr::NumberLiteral(q)) => Some(q.val),
                _ => panic!("{context}: histogram_quantile without a literal quantile"),
            }
        }
        _ => None,
    };
    Condition {
        op: binary.op.to_string(),
        threshold: threshold.val,
        quantile,
    }
}

/// A Prometheus duration such as `90s`, `5m` or `1h30m`.
fn is_prometheus_duration(text: &str) -> bool {
    let units = ["ms", "s", "m", "h", "d", "w", "y"];
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        match units.iter().find(|unit| rest.starts_with(**unit)) {
            Some(unit) => rest = &rest[unit.len()..],
            None => return false,
        }
    }
    !text.is_empty()
}

/// One rule of alerts.yml, checked for shape on the way in.
struct AlertRule {
    name: String,
    severity: String,
    metrics: BTreeSet<String>,
    condition: Condition,
}

fn alert_rules() -> Vec<AlertRule> {
    let file = yaml("deploy/prometheus/alerts.yml");
    let mut rules = Vec::new();
    let groups = seq_at(&file, "groups", "alerts.yml");
    assert!(!groups.is_empty(), "alerts.yml has no group");
    for group in groups {
        let group_name = str_at(group, "name", "alerts.yml group");
        for rule in seq_at(group, "rules", group_name) {
            let name = str_at(rule, "alert", group_name).to_owned();
            let context = format!("alerts.yml {group_name}/{name}");
            let expr = str_at(rule, "expr", &context);
            let hold = str_at(rule, "for", &context);
            assert!(is_prometheus_duration(hold), "{context}: for: {hold:?}");
            let severity = str_at(&rule["labels"], "severity", &context).to_owned();
            assert!(
                ["warning", "critical"].contains(&severity.as_str()),
                "{context}: severity {severity:?}"
            );
            for annotation in ["summary", "description"] {
                let text = str_at(&rule["annotations"], annotation, &context);
                assert!(!text.trim().is_empty(), "{context}: empty {annotation}");
            }
            rules.push(AlertRule {
                metrics: checked_metric_names(expr, &context),
                condition: condition(expr, &context),
                name,
                severity,
            });
        }
    }
    rules
}

/// Asserts that one rule alerts on `metric` with `op threshold` at `severity`.
fn assert_alert(
    rules: &[AlertRule],
    metric: &str,
    quantile: Option<f64>,
    op: &str,
    threshold: f64,
    severity: Option<&str>,
) {
    let found = rules.iter().any(|rule| {
        rule.metrics.contains(metric)
            && rule.condition.quantile == quantile
            && rule.condition.op == op
            && rule.condition.threshold == threshold
            && severity.is_none_or(|s| rule.severity == s)
    });
    let summary: Vec<String> = rules
        .iter()
        .map(|r| {
            format!(
                "{} {:?} {:?} {}",
                r.name, r.metrics, r.condition, r.severity
            )
        })
        .collect();
    assert!(
        found,
        "no alert on {metric} (quantile {quantile:?}) {op} {threshold} with severity \
         {severity:?}; rules:\n{}",
        summary.join("\n")
    );
}

#[test]
fn alert_rules_carry_the_seeds_thresholds() {
    let rules = alert_rules();
    let names: BTreeSet<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names.len(), rules.len(), "alert names repeat");

    let lag = "shardgate_replica_lag_seconds";
    assert_alert(&rules, lag, None, ">", 5.0, Some("warning"));
    assert_alert(&rules, lag, None, ">", 30.0, Some("critical"));
    assert_alert(&rules, "shardgate_hotspot_score", None, ">", 70.0, None);
    let latency = "shardgate_query_duration_seconds_bucket";
    assert_alert(&rules, latency, Some(0.99), ">", 1.0, None);
    assert_alert(
        &rules,
        "shardgate_pool_exhausted_total",
        None,
        ">",
        0.1,
        None,
    );
    assert_alert(
        &rules,
        "shardgate_backend_up",
        None,
        "==",
        0.0,
        Some("critical"),
    );
}

#[test]
fn prometheus_config_scrapes_the_compose_proxy_and_loads_the_rules() {
    let config = yaml("deploy/prometheus/prometheus.yml");
    let rule_files: Vec<&str> = seq_at(&config, "rule_files", "prometheus.yml")
        .iter()
        .map(|f| f.as_str().expect("rule_files entry"))
        .collect();
    assert!(
        rule_files.contains(&"alerts.yml"),
        "rule_files: {rule_files:?}"
    );
    for file in &rule_files {
        assert!(
            repo_path(&format!("deploy/prometheus/{file}")).is_file(),
            "{file}"
        );
    }

    let jobs = seq_at(&config, "scrape_configs", "prometheus.yml");
    let job = jobs
        .iter()
        .find(|job| job["job_name"].as_str() == Some("shardgate"))
        .expect("a scrape job named shardgate (alerts.yml's `up{job=\"shardgate\"}`)");
    let path = job["metrics_path"].as_str().unwrap_or("/metrics");
    assert_eq!(path, "/metrics");
    let targets: Vec<&str> = seq_at(job, "static_configs", "shardgate job")
        .iter()
        .flat_map(|group| seq_at(group, "targets", "static_configs"))
        .map(|t| t.as_str().expect("target"))
        .collect();

    // The target is the compose file's proxy, on its config's metrics port.
    let compose = Compose::load();
    let (topology, _) = compose.shardgate_config();
    let port = metrics_port(&topology, "deploy/compose/shardgate.toml");
    assert_eq!(targets, [format!("shardgate:{port}")]);
    assert!(compose.services.contains_key("shardgate"));
}

#[test]
fn promtool_accepts_the_rules_and_the_config() {
    let Ok(version) = Command::new("promtool").arg("--version").output() else {
        eprintln!("promtool is not installed (Debian: apt-get install prometheus); skipped");
        return;
    };
    assert!(version.status.success(), "promtool --version failed");
    for args in [
        ["check", "rules", "deploy/prometheus/alerts.yml"],
        ["check", "config", "deploy/prometheus/prometheus.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Grafana's own variables, and the value a query gets for them here.
const GRAFANA_BUILTINS: &[(&str, &str)] = &[
    ("__rate_interval", "5m"),
    ("__interval", "1m"),
    ("__range", "1h"),
];

/// Replaces `$name` and `${name}` with values: Grafana's built-ins, or a regex for the
/// dashboard's own variables (which only appear in `=~` matchers). Panics on unknown names.
fn substitute_variables(expr: &str, variables: &BTreeSet<String>, context: &str) -> String {
    let mut out = String::new();
    let mut rest = expr;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let braced = rest.starts_with('{');
        let name_start = usize::from(braced);
        let name_len = rest[name_start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len() - name_start);
        let name = &rest[name_start..name_start + name_len];
        let value = match GRAFANA_BUILTINS.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => *value,
            None if variables.contains(name) => ".*",
            None => panic!("{context}: unknown variable ${name} in {expr:?}"),
        };
        out.push_str(value);
        rest = &rest[name_start + name_len + usize::from(braced)..];
    }
    out.push_str(rest);
    out
}

/// Every panel, rows' nested panels included.
fn all_panels(panels: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    let mut out = Vec::new();
    for panel in panels {
        out.push(panel);
        if let Some(nested) = panel["panels"].as_array() {
            out.extend(all_panels(nested));
        }
    }
    out
}

#[test]
fn grafana_dashboard_queries_only_shardgate_metrics() {
    let text = read("deploy/grafana/shardgate.json");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("shardgate.json");
    assert!(dashboard["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(dashboard["uid"].as_str().is_some_and(|u| !u.is_empty()));
    let variables: BTreeSet<String> = dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .map(|v| v["name"].as_str().expect("variable name").to_owned())
        .collect();
    assert!(variables.contains("datasource"), "variables: {variables:?}");

    let panels = all_panels(dashboard["panels"].as_array().expect("panels"));
    let mut ids = BTreeSet::new();
    let mut used_metrics = BTreeSet::new();
    let mut quantiles = BTreeSet::new();
    for panel in &panels {
        let title = panel["title"].as_str().expect("panel title");
        assert!(
            ids.insert(panel["id"].as_u64().expect("panel id")),
            "{title}: id repeats"
        );
        assert!(panel["gridPos"]["w"].as_u64().is_some(), "{title}: gridPos");
        if panel["type"] == "row" {
            continue;
        }
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for target in targets {
            let context = format!("panel {title:?}");
            let datasource = target["datasource"]["uid"].as_str().unwrap_or_default();
            assert_eq!(datasource, "${datasource}", "{context}: data source");
            let expr = target["expr"].as_str().expect("target expr");
            let expr = substitute_variables(expr, &variables, &context);
            used_metrics.extend(checked_metric_names(&expr, &context));
            let ast = promql::parse(&expr).expect("parsed above");
            if let Expr::Call(call) = unparen(&ast) {
                if call.func.name == "histogram_quantile" {
                    if let Some(Expr::NumberLiteral(q)) = call.args.args.first().map(|a| unparen(a))
                    {
                        quantiles.insert(format!("{}", q.val));
                    }
                }
            }
        }
    }
    for metric in [
        "shardgate_queries_total",
        "shardgate_query_duration_seconds_bucket",
        "shardgate_replica_lag_seconds",
        "shardgate_pool_connections",
        "shardgate_hotspot_score",
        "shardgate_errors_total",
        "shardgate_backend_up",
    ] {
        assert!(used_metrics.contains(metric), "no panel shows {metric}");
    }
    for q in ["0.5", "0.95", "0.99"] {
        assert!(
            quantiles.contains(q),
            "no latency quantile {q}: {quantiles:?}"
        );
    }
}

/// docker-compose.yml, parsed.
struct Compose {
    services: BTreeMap<String, Yaml>,
    named_volumes: BTreeSet<String>,
}

/// A `volumes:` entry of a service.
enum Mount {
    /// A path of the repository (relative to the compose file) mounted at `target`.
    Bind {
        source: String,
        target: String,
    },
    Named {
        name: String,
    },
}

impl Compose {
    fn load() -> Self {
        let file = yaml("docker-compose.yml");
        let services = file["services"]
            .as_mapping()
            .expect("services")
            .iter()
            .map(|(name, service)| (name.as_str().expect("name").to_owned(), service.clone()))
            .collect();
        let named_volumes = file["volumes"]
            .as_mapping()
            .map(|m| {
                m.keys()
                    .map(|k| k.as_str().expect("volume").to_owned())
                    .collect()
            })
            .unwrap_or_default();
        Compose {
            services,
            named_volumes,
        }
    }

    fn service(&self, name: &str) -> &Yaml {
        self.services
            .get(name)
            .unwrap_or_else(|| panic!("docker-compose.yml has no service {name}"))
    }

    /// `depends_on` in its list or its map form.
    fn depends_on(service: &Yaml) -> Vec<String> {
        match &service["depends_on"] {
            Yaml::Sequence(names) => names
                .iter()
                .map(|n| n.as_str().expect("depends_on").to_owned())
                .collect(),
            Yaml::Mapping(map) => map
                .keys()
                .map(|n| n.as_str().expect("depends_on").to_owned())
                .collect(),
            _ => Vec::new(),
        }
    }

    fn mounts(service: &Yaml) -> Vec<Mount> {
        let Some(volumes) = service["volumes"].as_sequence() else {
            return Vec::new();
        };
        volumes
            .iter()
            .map(|volume| {
                let (source, target) = match volume {
                    Yaml::String(short) => {
                        let mut parts = short.splitn(3, ':');
                        let source = parts.next().unwrap_or_default().to_owned();
                        let target = parts.next().expect("volume target").to_owned();
                        (source, target)
                    }
                    long => (
                        str_at(long, "source", "volume").to_owned(),
                        str_at(long, "target", "volume").to_owned(),
                    ),
                };
                if source.starts_with('.') || source.starts_with('/') {
                    Mount::Bind { source, target }
                } else {
                    Mount::Named { name: source }
                }
            })
            .collect()
    }

    /// The argument after `flag` in a service's `command` list.
    fn command_arg(service: &Yaml, flag: &str) -> Option<String> {
        let command = service["command"].as_sequence()?;
        let at = command.iter().position(|a| a.as_str() == Some(flag))?;
        command.get(at + 1)?.as_str().map(str::to_owned)
    }

    /// The repository file a container path of `service` comes from, through its bind mounts.
    fn host_path(service: &Yaml, container_path: &str) -> PathBuf {
        Self::mounts(service)
            .into_iter()
            .find_map(|mount| match mount {
                Mount::Bind { source, target } => container_path
                    .strip_prefix(target.as_str())
                    .filter(|rest| rest.is_empty() || rest.starts_with('/'))
                    .map(|rest| repo_path(&format!("{source}{rest}"))),
                Mount::Named { .. } => None,
            })
            .unwrap_or_else(|| panic!("{container_path} is not in a bind mount"))
    }

    /// The proxy's config file (through `--config` and its mount), validated.
    fn shardgate_config(&self) -> (Topology, PathBuf) {
        let service = self.service("shardgate");
        let config = Self::command_arg(service, "--config").expect("shardgate: --config FILE");
        let host = Self::host_path(service, &config);
        let text =
            std::fs::read_to_string(&host).unwrap_or_else(|e| panic!("{}: {e}", host.display()));
        (parse_config(&text, &host.display().to_string()), host)
    }

    fn environment(service: &Yaml, key: &str) -> Option<String> {
        service["environment"][key].as_str().map(str::to_owned)
    }
}

#[test]
fn compose_references_resolve_and_the_proxy_config_is_valid() {
    let compose = Compose::load();
    for (name, service) in &compose.services {
        for dependency in Compose::depends_on(service) {
            assert!(
                compose.services.contains_key(&dependency),
                "{name} depends on unknown service {dependency}"
            );
        }
        for mount in Compose::mounts(service) {
            match mount {
                Mount::Bind { source, .. } => {
                    assert!(
                        source.starts_with("./"),
                        "{name}: {source} is outside the repo"
                    );
                    assert!(
                        repo_path(&source).exists(),
                        "{name}: {source} does not exist"
                    );
                }
                Mount::Named { name: volume } => assert!(
                    compose.named_volumes.contains(&volume),
                    "{name}: volume {volume} is not declared under volumes:"
                ),
            }
        }
        if let Some(context) = service["build"]["context"].as_str() {
            let dockerfile = service["build"]["dockerfile"]
                .as_str()
                .unwrap_or("Dockerfile");
            assert!(
                repo_path(&format!("{context}/{dockerfile}")).is_file(),
                "{name}"
            );
        }
    }

    // Two shards, each a MySQL 8 primary and a replica replicating from it with GTIDs.
    let mysql: Vec<&String> = compose
        .services
        .iter()
        .filter(|(_, s)| {
            s["image"]
                .as_str()
                .is_some_and(|i| i.starts_with("mysql:8"))
        })
        .map(|(name, _)| name)
        .collect();
    assert_eq!(mysql.len(), 4, "MySQL services: {mysql:?}");
    let mut server_ids = BTreeSet::new();
    for name in &mysql {
        let service = compose.service(name);
        let args: Vec<&str> = seq_at(service, "command", name)
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
        assert!(args.contains(&"--gtid-mode=ON"), "{name}: {args:?}");
        assert!(args.contains(&"--enforce-gtid-consistency=ON"), "{name}");
        let id = args.iter().find_map(|a| a.strip_prefix("--server-id="));
        assert!(
            server_ids.insert(id.expect("--server-id")),
            "{name}: server-id repeats"
        );
    }

    let (topology, config_path) = compose.shardgate_config();
    assert!(
        config_path.ends_with("deploy/compose/shardgate.toml"),
        "{}",
        config_path.display()
    );
    assert_eq!(topology.shards.len(), 2);
    let accounts = read("deploy/compose/mysql/01-accounts.sql");
    let backend_account = format!(
        "CREATE USER '{}'@'%' IDENTIFIED BY '{}';",
        topology.backend.user, topology.backend.password
    );
    assert!(
        accounts.contains(&backend_account),
        "01-accounts.sql lacks {backend_account}"
    );
    assert!(accounts.contains(&format!(
        "CREATE DATABASE IF NOT EXISTS {};",
        topology.backend.database
    )));
    let replicate = read("deploy/compose/mysql/03-replicate.sh");
    assert!(
        replicate.contains("SOURCE_AUTO_POSITION = 1"),
        "03-replicate.sh"
    );

    let proxy = compose.service("shardgate");
    let waits_for = Compose::depends_on(proxy);
    for shard in &topology.shards {
        let primary = &shard.primary.host;
        assert!(
            mysql.contains(&primary),
            "shard {}: {primary} is no MySQL service",
            shard.name
        );
        assert!(
            waits_for.contains(primary),
            "shardgate does not wait for {primary}"
        );
        assert_eq!(shard.replicas.len(), 1, "shard {}", shard.name);
        let replica_name = &shard.replicas[0].host;
        let replica = compose.service(replica_name);
        assert_eq!(
            Compose::environment(replica, "REPLICATION_SOURCE_HOST").as_ref(),
            Some(primary),
            "{replica_name} replicates from its shard's primary"
        );
        assert!(
            Compose::depends_on(replica).contains(primary),
            "{replica_name}"
        );
        let init = Compose::host_path(replica, "/docker-entrypoint-initdb.d/03-replicate.sh");
        assert!(init.ends_with("deploy/compose/mysql/03-replicate.sh"));
        assert!(
            waits_for.contains(replica_name),
            "shardgate does not wait for {replica_name}"
        );
    }

    // The published ports are the config's.
    let ports: Vec<String> = seq_at(proxy, "ports", "shardgate")
        .iter()
        .map(|p| p.as_str().expect("port").to_owned())
        .collect();
    for port in [
        port_of(&topology.server.listen),
        metrics_port(&topology, "shardgate.toml"),
    ] {
        assert!(
            ports.contains(&format!("{port}:{port}")),
            "{port} not in {ports:?}"
        );
    }

    // Prometheus and Grafana read the deploy/ files.
    let prometheus = compose.service("prometheus");
    let config_flag = seq_at(prometheus, "command", "prometheus")
        .iter()
        .filter_map(Yaml::as_str)
        .find_map(|a| a.strip_prefix("--config.file="))
        .expect("prometheus --config.file");
    let config_file = Compose::host_path(prometheus, config_flag);
    assert!(config_file.ends_with("deploy/prometheus/prometheus.yml"));
    let grafana = compose.service("grafana");
    let dashboard = Compose::host_path(grafana, "/etc/grafana/dashboards/shardgate.json");
    assert!(dashboard.is_file());
    let provider = yaml("deploy/grafana/provisioning/dashboards/shardgate.yml");
    let provider_path = str_at(
        &seq_at(&provider, "providers", "provider")[0]["options"],
        "path",
        "provider",
    );
    assert_eq!(provider_path, "/etc/grafana/dashboards");
}

/// The Kubernetes objects of deploy/k8s, by kind, through kustomization.yaml.
fn k8s_objects() -> BTreeMap<String, Yaml> {
    let kustomization = yaml("deploy/k8s/kustomization.yaml");
    let mut objects = BTreeMap::new();
    for resource in seq_at(&kustomization, "resources", "kustomization.yaml") {
        let file = format!("deploy/k8s/{}", resource.as_str().expect("resource"));
        let object = yaml(&file);
        str_at(&object, "apiVersion", &file);
        let kind = str_at(&object, "kind", &file).to_owned();
        str_at(&object["metadata"], "name", &file);
        assert!(
            objects.insert(kind.clone(), object).is_none(),
            "two {kind}s"
        );
    }
    objects
}

#[test]
fn k8s_probes_use_the_metrics_port_and_the_configmap_is_a_valid_config() {
    let objects = k8s_objects();
    let config_map = &objects["ConfigMap"];
    let deployment = &objects["Deployment"];
    let service = &objects["Service"];

    let pod = &deployment["spec"]["template"];
    let container = &seq_at(&pod["spec"], "containers", "Deployment")[0];
    let args: Vec<&str> = seq_at(container, "args", "container")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    let at = args
        .iter()
        .position(|a| *a == "--config")
        .expect("--config");
    let config_path = Path::new(args[at + 1]);

    // The config file is a key of the ConfigMap, mounted as a directory (no subPath).
    let volume = seq_at(&pod["spec"], "volumes", "pod")
        .iter()
        .find(|v| v["configMap"]["name"] == config_map["metadata"]["name"])
        .expect("a volume of the ConfigMap");
    let mount = seq_at(container, "volumeMounts", "container")
        .iter()
        .find(|m| m["name"] == volume["name"])
        .expect("the ConfigMap volume mounted");
    assert!(
        mount["subPath"].is_null(),
        "subPath mounts never see ConfigMap updates"
    );
    assert_eq!(
        config_path.parent(),
        Some(Path::new(str_at(mount, "mountPath", "mount")))
    );
    let key = config_path.file_name().unwrap().to_str().unwrap();
    let toml = str_at(&config_map["data"], key, "ConfigMap data");
    let topology = parse_config(toml, "deploy/k8s/configmap.yaml");
    let metrics = metrics_port(&topology, "ConfigMap");
    let mysql = port_of(&topology.server.listen);

    // Named container ports match the config; probes hit them.
    let port_named = |name: &str| -> u16 {
        let port = seq_at(container, "ports", "container")
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no container port named {name}"));
        port["containerPort"].as_u64().expect("containerPort") as u16
    };
    assert_eq!(port_named("metrics"), metrics);
    assert_eq!(port_named("mysql"), mysql);
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(str_at(get, "path", probe), path);
        let port = match &get["port"] {
            Yaml::String(name) => port_named(name),
            Yaml::Number(n) => n.as_u64().expect("port") as u16,
            other => panic!("{probe}: port {other:?}"),
        };
        assert_eq!(port, metrics, "{probe} is not on the metrics port");
    }

    // The Service selects the pods and exposes both ports.
    let selector = service["spec"]["selector"].as_mapping().expect("selector");
    for (label, value) in selector {
        assert_eq!(&pod["metadata"]["labels"][label.as_str().unwrap()], value);
    }
    let service_ports = seq_at(&service["spec"], "ports", "Service");
    for (name, port) in [("mysql", mysql), ("metrics", metrics)] {
        let entry = service_ports
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("Service has no port {name}"));
        assert_eq!(entry["port"].as_u64(), Some(u64::from(port)));
        let target = &entry["targetPort"];
        assert!(target.as_str() == Some(name) || target.as_u64() == Some(u64::from(port)));
    }
}

/// `KEY=VALUE` lines of a systemd unit (all sections; repeated keys keep every value).
fn unit_settings(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .collect()
}

#[test]
fn systemd_unit_reloads_with_sighup_and_is_hardened() {
    let text = read("deploy/systemd/shardgate.service");
    let settings = unit_settings(&text);
    let values = |key: &str| -> Vec<&str> {
        settings
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .collect()
    };
    let start = values("ExecStart");
    assert_eq!(start.len(), 1);
    assert!(start[0].contains(" serve --config "), "{start:?}");
    let reload = values("ExecReload");
    assert!(
        reload.iter().any(|r| r.contains("kill -HUP $MAINPID")),
        "{reload:?}"
    );
    assert_eq!(values("Restart"), ["on-failure"]);
    assert_ne!(values("User"), ["root"]);
    assert!(!values("User").is_empty(), "runs as a dedicated user");
    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
    ] {
        assert_eq!(values(key), [value], "{key}");
    }
}

#[test]
fn dockerfile_builds_in_stages_and_runs_unprivileged() {
    let text = read("Dockerfile");
    let instructions: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms: Vec<&&str> = instructions
        .iter()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "builder and runtime stages: {froms:?}");
    assert!(froms[0].contains("rust:") && froms[0].ends_with(" AS builder"));
    assert!(froms[1].contains("debian:") && froms[1].contains("-slim"));
    let user = instructions
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER");
    assert!(!["root", "0", "0:0"].contains(&user), "runs as {user}");

    // The image exposes the ports the compose config listens on.
    let (topology, _) = Compose::load().shardgate_config();
    let expose = instructions
        .iter()
        .find_map(|l| l.strip_prefix("EXPOSE "))
        .expect("EXPOSE");
    let exposed: Vec<&str> = expose.split_whitespace().collect();
    for port in [
        port_of(&topology.server.listen),
        metrics_port(&topology, "compose"),
    ] {
        assert!(
            exposed.contains(&port.to_string().as_str()),
            "EXPOSE {expose}"
        );
    }
    assert!(read(".dockerignore").lines().any(|l| l.trim() == "/target"));
}
