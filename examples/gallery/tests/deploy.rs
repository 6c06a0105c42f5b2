//! The deployment on paper (`deploy/`): no cluster runs here, so this parses every manifest and
//! checks that it agrees with the code: each service runs a subcommand the binary has, listens
//! where its Service sends traffic, finds the other services where they are, and reports to a
//! Jaeger agent Service that exists, on the port and protocol the agent listens on, under the
//! service name the code would use.

use std::collections::HashMap;
use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

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

#[test]
fn manifests_agree_with_the_code() {
    let gallery = documents("gallery.yaml");
    let jaeger = documents("jaeger.yaml");
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

        let env: HashMap<String, String> = container["env"]
            .as_vec()
            .unwrap()
            .iter()
            .map(|e| (str_of(&e["name"]), str_of(&e["value"])))
            .collect();
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
        // The variables the code reads accept these values.
        let config = traced_config(&env);
        assert!(config.is_ok(), "{name}: {config:?}");

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
    // The agent's other ports, as the Jaeger client defaults and the collector expect them.
    assert_eq!(all["jaeger-agent"][&6832].1, "UDP");
    assert!(all["jaeger-collector"].contains_key(&14268));
    assert!(all["jaeger-query"].contains_key(&16686));
}

/// Reads `env` as `traced::Config::from_env` would.
fn traced_config(env: &HashMap<String, String>) -> Result<(), String> {
    // The variables are checked in a child process, so this test's environment stays as it is:
    // a catalog started with them, and stopped at once (its stdin is empty).
    let data = std::env::temp_dir().join(format!("gallery-deploy-{}", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gallery"))
        .args(["catalog", "--port", "0", "--data"])
        .arg(&data)
        .envs(env)
        .env("JAEGER_AGENT_HOST", "127.0.0.1")
        .env("GALLERY_PARENT", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&data);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(())
    } else {
        Err(stderr.into_owned())
    }
}
