// One HTTP POST, for run_bridge.js: reads {url, headers, body} as JSON on stdin and
// writes {statusCode, body} (or {error}) as JSON on stdout. Run as a child process so
// that the stand-in HTTP client can be synchronous, as brainCloud's is.
"use strict";

const http = require("http");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  input += chunk;
});
process.stdin.on("end", () => {
  const request = JSON.parse(input);
  const body = Buffer.from(request.body, "utf8");
  const headers = Object.assign({}, request.headers, {
    "content-length": String(body.length),
    accept: "application/json",
  });
  if (!headers["content-type"]) {
    headers["content-type"] = request.contentType;
  }
  const req = http.request(request.url, { method: "POST", headers, timeout: 10000 }, (res) => {
    const chunks = [];
    res.on("data", (c) => chunks.push(c));
    res.on("end", () => {
      process.stdout.write(
        JSON.stringify({ statusCode: res.statusCode, body: Buffer.concat(chunks).toString("utf8") })
      );
    });
  });
  req.on("timeout", () => req.destroy(new Error("timed out")));
  req.on("error", (err) => process.stdout.write(JSON.stringify({ error: String(err.message) })));
  req.end(body);
});
