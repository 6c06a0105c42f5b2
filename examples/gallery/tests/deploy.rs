//! The deployment on paper (`deploy/`): no cluster runs here, so this parses every manifest and
//! checks that it agrees with the code: each service runs a subcommand the binary has, listens
//! where its Service sends traffic, finds the other services where they are, and reports to a
//! Jaeger agent Service that exists, on the port and protocol the agent listens on, under the
//! service name the code would use; and names the pod, namespace and node it runs on: the
//! downward API's variables, which the real binary, run with the container's environment,
//! reports as the process tags `k8s.pod.name`, `k8s.namespace.name` and `k8s.node.name`.
//!
//! The Jaeger v2 variant (`deploy/kubernetes/jaeger-v2/`) is checked the same way, its services
//! configured by `OTEL_*` variables and exporting OTLP/HTTP to the port Jaeger v2's OTLP
//! receiver listens on; the real binary, run with that environment, reports over OTLP to this
//! test's collector (its OTLP port), the pod's identity arriving as resource attributes.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use traced_collector::Collector;
use yaml_rust2::{Yaml, YamlLoader};

/// The process tags each service's spans carry, and the pod field the downward API gives each.
const POD_TAGS: [(&str, &str); 3] = [
    ("k8s.pod.name", "metadata.name"),
    ("k8s.namespace.name", "metadata.namespace"),
    ("k8s.node.name", "spec.nodeName"),
];

fn documents(file: &str) -> Vec<Yaml> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/kubernetes")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{file} is not YAML: {e}"))
}

fn str_of(y: &Yaml) -> String {
    match y {
        Yaml::String(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        other => panic!("expected a string, found {other:?}"),
    }
}

/// Service name -> (port -> (targetPort, protocol)).
type Services = HashMap<String, HashMap<i64, (i64, String)>>;

fn services(docs: &[Yaml]) -> Services {
    docs.iter()
        .filter(|d| d["kind"].as_str() == Some("Service"))
        .map(|d| {
            let ports = d["spec"]["ports"]
                .as_vec()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["port"].as_i64().unwrap(),
                        (
                            p["targetPort"].as_i64().unwrap(),
                            p["protocol"].as_str().unwrap_or("TCP").to_owned(),
                        ),
                    )
                })
                .collect();
            (str_of(&d["metadata"]["name"]), ports)
        })
        .collect()
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .map(|i| args[i + 1].clone())
}

/// Which deployment: the talk's (Jaeger all-in-one, its agent over UDP) or Jaeger v2's (OTLP).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Variant {
    Agent,
    Otlp,
}

impl Variant {
    fn dir(self) -> &'static str {
        match self {
            Variant::Agent => "",
            Variant::Otlp => "jaeger-v2/",
        }
    }

    /// The variable listing the pod's tags and how it names a variable in its value: traced
    /// expands `${VAR}` in `JAEGER_TAGS`; Kubernetes expands `$(VAR)` in any variable from the
    /// ones above it, which `OTEL_RESOURCE_ATTRIBUTES` takes as the OpenTelemetry SDKs do.
    fn pod_tags_variable(self, variable: &str) -> (&'static str, String) {
        match self {
            Variant::Agent => ("JAEGER_TAGS", format!("${{{variable}}}")),
            Variant::Otlp => ("OTEL_RESOURCE_ATTRIBUTES", format!("$({variable})")),
        }
    }
}

#[test]
fn manifests_agree_with_the_code() {
    check(Variant::Agent);
    // The agent's other ports, as the Jaeger client defaults and the collector expect them.
    let mut all = services(&documents("gallery.yaml"));
    all.extend(services(&documents("jaeger.yaml")));
    assert_eq!(all["jaeger-agent"][&6832].1, "UDP");
    assert!(all["jaeger-collector"].contains_key(&14268));
    assert!(all["jaeger-query"].contains_key(&16686));
}

#[test]
fn the_jaeger_v2_variant_exports_otlp_where_jaeger_v2_receives_it() {
    check(Variant::Otlp);
    let jaeger = documents("jaeger-v2/jaeger.yaml");
    let all = services(&jaeger);
    let config_map = jaeger
        .iter()
        .find(|d| d["kind"].as_str() == Some("ConfigMap"))
        .expect("Jaeger v2's configuration");
    let config = &YamlLoader::load_from_str(config_map["data"]["config.yaml"].as_str().unwrap())
        .expect("the configuration is YAML")[0];
    let deployment = jaeger
        .iter()
        .find(|d| d["kind"].as_str() == Some("Deployment"))
        .unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert!(
        str_of(&container["image"]).starts_with("jaegertracing/jaeger:2."),
        "Jaeger v2's image"
    );
    let config_name = str_of(&config_map["metadata"]["name"]);
    let volume = deployment["spec"]["template"]["spec"]["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|v| v["configMap"]["name"].as_str() == Some(config_name.as_str()))
        .expect("the configuration mounted");
    let mount = container["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|m| m["name"] == volume["name"])
        .expect("the configuration's volume mounted");
    let args: Vec<String> = container["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(str_of)
        .collect();
    assert_eq!(
        flag(&args, "--config"),
        Some(format!("{}/config.yaml", str_of(&mount["mountPath"]))),
        "Jaeger reads the mounted configuration"
    );
    let container_ports: Vec<i64> = container["ports"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|p| p["containerPort"].as_i64().unwrap())
        .collect();
    // Each endpoint the configuration listens on: in the container, behind a Service.
    let port_of = |endpoint: &Yaml| -> i64 {
        let endpoint = str_of(endpoint);
        let (host, port) = endpoint.rsplit_once(':').unwrap();
        assert_eq!(host, "0.0.0.0", "{endpoint}: reachable in the pod network");
        port.parse().unwrap()
    };
    let otlp_http = port_of(&config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]);
    let otlp_grpc = port_of(&config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]);
    let query = port_of(&config["extensions"]["jaeger_query"]["http"]["endpoint"]);
    assert_eq!((otlp_http, otlp_grpc, query), (4318, 4317, 16686));
    for (service, port) in [
        ("jaeger-collector", otlp_http),
        ("jaeger-collector", otlp_grpc),
        ("jaeger-query", query),
    ] {
        assert!(
            container_ports.contains(&port),
            "the container exposes {port}"
        );
        assert_eq!(
            all[service].get(&port),
            Some(&(port, "TCP".to_owned())),
            "{service} sends {port} to the container"
        );
    }
    // The pipeline: OTLP in, into the store the query extension reads.
    let pipeline = &config["service"]["pipelines"]["traces"];
    let names = |y: &Yaml| -> Vec<String> { y.as_vec().unwrap().iter().map(str_of).collect() };
    assert_eq!(names(&pipeline["receivers"]), ["otlp"]);
    assert_eq!(names(&pipeline["exporters"]), ["jaeger_storage_exporter"]);
    let store = str_of(&config["exporters"]["jaeger_storage_exporter"]["trace_storage"]);
    assert_eq!(
        str_of(&config["extensions"]["jaeger_query"]["storage"]["traces"]),
        store
    );
    assert!(
        !config["extensions"]["jaeger_storage"]["backends"][store.as_str()].is_badvalue(),
        "the backend {store} is defined"
    );
    let extensions = names(&config["service"]["extensions"]);
    assert!(
        extensions.iter().any(|e| e == "jaeger_storage")
            && extensions.iter().any(|e| e == "jaeger_query"),
        "{extensions:?}"
    );
}

/// What both variants share: deployments, their Services and the services they call, the
/// service name, the destination's Service, and the pod's identity as the binary reports it.
fn check(variant: Variant) {
    let gallery = documents(&format!("{}gallery.yaml", variant.dir()));
    let jaeger = documents(&format!("{}jaeger.yaml", variant.dir()));
    let mut all = services(&gallery);
    all.extend(services(&jaeger));

    let deployments: Vec<&Yaml> = gallery
        .iter()
        .filter(|d| d["kind"].as_str() == Some("Deployment"))
        .collect();
    let names: Vec<String> = deployments
        .iter()
        .map(|d| str_of(&d["metadata"]["name"]))
        .collect();
    assert_eq!(names, ["gallery-api", "gallery-catalog", "gallery-store"]);

    for deployment in deployments {
        let name = str_of(&deployment["metadata"]["name"]);
        let spec = &deployment["spec"];
        assert_eq!(
            spec["selector"]["matchLabels"]["app"], spec["template"]["metadata"]["labels"]["app"],
            "{name}: the selector matches the pods"
        );
        let container = &spec["template"]["spec"]["containers"][0];
        let args: Vec<String> = container["args"]
            .as_vec()
            .unwrap()
            .iter()
            .map(str_of)
            .collect();
        let subcommand = name.strip_prefix("gallery-").unwrap();
        assert_eq!(args[0], subcommand, "{name} runs its own subcommand");
        assert_eq!(
            flag(&args, "--bind").as_deref(),
            Some("0.0.0.0"),
            "{name}: reachable in the pod network"
        );
        let port: i64 = flag(&args, "--port").unwrap().parse().unwrap();
        assert_eq!(
            container["ports"][0]["containerPort"].as_i64(),
            Some(port),
            "{name}"
        );
        let service = all
            .get(&name)
            .unwrap_or_else(|| panic!("a Service for {name}"));
        assert!(
            service.values().any(|(target, _)| *target == port),
            "{name}'s Service sends to {port}"
        );

        let (env, downward) = environment(container);
        match variant {
            Variant::Agent => {
                assert_eq!(
                    env["JAEGER_SERVICE_NAME"], name,
                    "the name the code defaults to"
                );
                let agent = all
                    .get(&env["JAEGER_AGENT_HOST"])
                    .unwrap_or_else(|| panic!("{name}: no Service {}", env["JAEGER_AGENT_HOST"]));
                let agent_port: i64 = env["JAEGER_AGENT_PORT"].parse().unwrap();
                assert_eq!(
                    agent
                        .get(&agent_port)
                        .map(|(_, protocol)| protocol.as_str()),
                    Some("UDP"),
                    "{name}: the agent takes thrift compact over UDP on {agent_port}"
                );
            }
            Variant::Otlp => {
                assert_eq!(
                    env["OTEL_SERVICE_NAME"], name,
                    "the name the code defaults to"
                );
                assert!(
                    !env.keys().any(|k| k.starts_with("JAEGER_")),
                    "{name}: OTEL_* alone"
                );
                let endpoint = &env["OTEL_EXPORTER_OTLP_ENDPOINT"];
                let (host, port) = endpoint
                    .strip_prefix("http://")
                    .and_then(|rest| rest.split_once(':'))
                    .unwrap_or_else(|| panic!("{name}: {endpoint} is http://HOST:PORT"));
                let port: i64 = port.trim_end_matches('/').parse().unwrap();
                let collector = all
                    .get(host)
                    .unwrap_or_else(|| panic!("{name}: no Service {host}"));
                assert_eq!(
                    collector.get(&port).map(|(_, protocol)| protocol.as_str()),
                    Some("TCP"),
                    "{name}: {host} takes OTLP/HTTP on {port}"
                );
            }
        }
        // The pod's identity: each field from the downward API, named in JAEGER_TAGS.
        let mut pod = HashMap::new();
        for (tag, field) in POD_TAGS {
            let variable = downward
                .iter()
                .find(|(_, path)| *path == field)
                .map(|(variable, _)| variable)
                .unwrap_or_else(|| panic!("{name}: {field} from the downward API"));
            let (list, reference) = variant.pod_tags_variable(variable);
            assert!(
                env[list]
                    .split(',')
                    .any(|t| t == format!("{tag}={reference}")),
                "{name}: {list} names {variable} as {tag}: {}",
                env[list]
            );
            // What Kubernetes would set it to.
            let value = match field {
                "metadata.name" => format!("{name}-5d8f7c9b6-x2k9p"),
                "metadata.namespace" => "gallery".to_owned(),
                _ => "node-7".to_owned(),
            };
            pod.insert(variable.clone(), value);
        }
        // The variables the code reads accept these values, and its spans carry the pod's.
        let tags = reported_process_tags(variant, &name, &env, &pod)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for (tag, field) in POD_TAGS {
            let variable = &downward.iter().find(|(_, p)| *p == field).unwrap().0;
            assert_eq!(
                tags.get(tag),
                Some(&pod[variable]),
                "{name}: the process tag {tag} in {tags:?}"
            );
        }

        if subcommand == "api" {
            for (flag_name, target) in [
                ("--catalog", "gallery-catalog"),
                ("--store", "gallery-store"),
            ] {
                let url = flag(&args, flag_name).unwrap();
                let rest = url.strip_prefix("http://").unwrap();
                let (host, port) = rest.split_once(':').unwrap();
                assert_eq!(host, target);
                let port: i64 = port.parse().unwrap();
                assert!(
                    all[target].contains_key(&port),
                    "{url} is a port of Service {target}"
                );
            }
        }
    }
}

/// A container's environment: its plain values, and the variables the downward API fills
/// (variable -> the pod field).
fn environment(container: &Yaml) -> (HashMap<String, String>, Vec<(String, String)>) {
    let mut values = HashMap::new();
    let mut downward = Vec::new();
    for e in container["env"].as_vec().unwrap() {
        let name = str_of(&e["name"]);
        match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
            Some(field) => downward.push((name, field.to_owned())),
            None => {
                values.insert(name, str_of(&e["value"]));
            }
        }
    }
    (values, downward)
}

/// `value` as Kubernetes sets it: each `$(VAR)` naming a variable of `pod` replaced by its value.
fn kubernetes_expanded(value: &str, pod: &HashMap<String, String>) -> String {
    pod.iter().fold(value.to_owned(), |value, (variable, v)| {
        value.replace(&format!("$({variable})"), v)
    })
}

/// Runs the gallery binary with a container's environment `env` and the downward API's
/// variables `pod`, as `traced::Config::from_env` reads them, reporting to a collector of this
/// test's (every trace sampled; to its agent port or its OTLP port, as the variant does); sends
/// it one request and returns the process tags its spans arrived with, or the service's error.
/// Run in a child process, so this test's environment stays as it is.
fn reported_process_tags(
    variant: Variant,
    name: &str,
    env: &HashMap<String, String>,
    pod: &HashMap<String, String>,
) -> Result<HashMap<String, String>, String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let collector = runtime
        .block_on(Collector::start(traced_collector::Config::ephemeral()))
        .unwrap();
    let agent = collector.udp_compact_addr();
    let destination: Vec<(&str, String)> = match variant {
        Variant::Agent => vec![
            ("JAEGER_AGENT_HOST", agent.ip().to_string()),
            ("JAEGER_AGENT_PORT", agent.port().to_string()),
            ("JAEGER_SAMPLER_TYPE", "const".to_owned()),
            ("JAEGER_SAMPLER_PARAM", "1".to_owned()),
        ],
        Variant::Otlp => vec![
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://{}", collector.otlp_http_addr().unwrap()),
            ),
            ("OTEL_TRACES_SAMPLER", "always_on".to_owned()),
        ],
    };
    // One directory per variant: both tests run at once in this process.
    let data =
        std::env::temp_dir().join(format!("gallery-deploy-{variant:?}-{}", std::process::id()));
    let mut service = Command::new(env!("CARGO_BIN_EXE_gallery"))
        .args(["catalog", "--port", "0", "--data"])
        .arg(&data)
        .envs(env.iter().map(|(k, v)| (k, kubernetes_expanded(v, pod))))
        .envs(pod)
        .envs(destination)
        .env("GALLERY_PARENT", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    // It says where it listens first: `gallery-catalog listening on http://ADDR`.
    let mut line = String::new();
    BufReader::new(service.stdout.take().unwrap())
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let answered = match line.trim().split_once(" listening on ") {
        Some((_, url)) => runtime
            .block_on(reqwest::get(format!("{url}/images")))
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string()),
        None => Err("it stopped before listening".to_owned()),
    };
    drop(service.stdin.take()); // stops it, flushing its spans
    let status = service.wait().map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&data);
    if !status.success() || answered != Ok(200) {
        let mut stderr = String::new();
        let _ = service.stderr.take().unwrap().read_to_string(&mut stderr);
        return Err(format!("{status}, {answered:?}: {stderr}"));
    }
    let url = format!(
        "http://{}/api/traces?service={name}&limit=1",
        collector.query_addr()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let trace = loop {
        let found: Value = runtime
            .block_on(async { reqwest::get(&url).await?.json().await })
            .map_err(|e| e.to_string())?;
        if let Some(trace) = found["data"].get(0) {
            break trace.clone();
        }
        if Instant::now() > deadline {
            return Err(format!("no trace of {name} arrived"));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let process = trace["processes"].as_object().unwrap().values().next();
    Ok(process.unwrap()["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let value = t["value"]
                .as_str()
                .map_or_else(|| t["value"].to_string(), str::to_owned);
            (t["key"].as_str().unwrap().to_owned(), value)
        })
        .collect())
}
