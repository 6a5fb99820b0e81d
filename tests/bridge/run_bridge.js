// Runs the brainCloud bridge script (bridge/braincloud/ReceiverHook.ccjs) under Node.js
// with a stand-in for brainCloud's `bridge` object, as Cloud Code would run it for one
// API hook, and prints what happened as JSON:
//
//     node run_bridge.js SCENARIO.json
//     -> {"answer": <the script's return value>, "calls": [...], "warnings": [...]}
//
// SCENARIO: {"script": path, "data": <the hook's data object>, "profileId": "..." | null,
//            "services": {"<service code>": "<base URL>"}, "httpThrows": false}
//
// The stand-in HTTP client follows the documented shapes (docs/protocols.md B.6): it posts to
// the Web Services entry's base URL + "/" + path and returns
// {"status": 200, "data": {"statusCode": <remote status>, "json": <remote JSON body>}}.
// An unknown service code gives brainCloud's 40443 error; a connection failure gives a
// status-500 error object (what brainCloud really returns then is not documented, and
// the script treats every non-200 alike); "httpThrows" makes every call throw instead.
"use strict";

const childProcess = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const scenario = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const calls = [];
const warnings = [];

function post(method, serviceCode, urlPath, query, headers, body, contentType) {
  const call = { method, serviceCode, path: urlPath, query, headers, body };
  calls.push(call);
  if (scenario.httpThrows) {
    throw new Error("stand-in HTTP client failure");
  }
  const base = (scenario.services || {})[serviceCode];
  if (base === undefined) {
    return { status: 400, reason_code: 40443, status_message: "Invalid web service code" };
  }
  const url = base.replace(/\/+$/, "") + "/" + urlPath.replace(/^\/+/, "");
  const child = childProcess.spawnSync(process.execPath, [path.join(__dirname, "http_post.js")], {
    input: JSON.stringify({ url, headers, body, contentType }),
    encoding: "utf8",
    timeout: 15000,
  });
  const outcome = JSON.parse(child.stdout || '{"error": "no output"}');
  call.outcome = outcome;
  if (outcome.error !== undefined) {
    return { status: 500, reason_code: 0, status_message: "HTTP request failed: " + outcome.error };
  }
  let json;
  try {
    json = JSON.parse(outcome.body);
  } catch (err) {
    return { status: 500, reason_code: 40408, status_message: "JSON_PARSING_ERROR" };
  }
  return { status: 200, data: { statusCode: outcome.statusCode, json } };
}

const httpClient = {
  postJsonResponseJson(serviceCode, urlPath, query, headers, json) {
    return post("postJsonResponseJson", serviceCode, urlPath, query, headers,
                JSON.stringify(json), "application/json");
  },
  postTextResponseJson(serviceCode, urlPath, query, headers, text) {
    return post("postTextResponseJson", serviceCode, urlPath, query, headers,
                String(text), "text/plain");
  },
};

const bridge = {
  getProfileId() {
    if (scenario.profileId === null || scenario.profileId === undefined) {
      throw new Error("no session");
    }
    return scenario.profileId;
  },
  getHttpClientServiceProxy() {
    return httpClient;
  },
  utils() {
    return {
      signHMACSha256(key, dataString) {
        return crypto.createHmac("sha256", String(key)).update(String(dataString), "utf8")
          .digest("base64");
      },
    };
  },
  logWarning(message, context) {
    warnings.push({ message: String(message), context: String(context) });
  },
};

const source = fs.readFileSync(scenario.script, "utf8");
const context = vm.createContext({ data: scenario.data, bridge });
const answer = vm.runInContext(source, context, { filename: path.basename(scenario.script) });
process.stdout.write(
  JSON.stringify({
    answer: answer === undefined ? null : answer,
    answerUndefined: answer === undefined,
    calls,
    warnings,
  })
);
