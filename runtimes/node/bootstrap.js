// nimbus's Lambda runtime for Node.js functions.
//
// Runs the Lambda Runtime API loop (next -> handler -> response/error)
// against AWS_LAMBDA_RUNTIME_API, loads the handler named by _HANDLER from
// LAMBDA_TASK_ROOT (CommonJS or ES module), supports async handlers and
// callback handlers, formats console output as AWS's Node.js runtime does
// ("TIMESTAMP\tREQUEST_ID\tLEVEL\tmessage"), and reports errors in AWS's
// shapes (Runtime.ImportModuleError, Runtime.HandlerNotFound, ...).
// Response streaming: the globals awslambda.streamifyResponse and
// awslambda.HttpResponseStream, as AWS's Node.js runtime provides them; a
// streaming handler's output goes to the Runtime API as a chunked POST in
// streaming response mode, with an error thrown mid-stream in its trailers.
"use strict";

const net = require("net");
const path = require("path");
const fs = require("fs");
const util = require("util");
const { pathToFileURL } = require("url");
const { Writable } = require("stream");
const { finished } = require("stream/promises");

const [HOST, PORT] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const BASE = "/2018-06-01/runtime";

// A minimal keep-alive HTTP/1.1 client on one socket: nimbus always sends
// Content-Length, and responses come in request order, so each request
// waits for the next response on the socket.  After an invocation its
// result and the request for the next one go out in one write.
const sock = net.connect({ host: HOST, port: Number(PORT), noDelay: true });
sock.on("error", () => process.exit(1));
sock.on("close", () => process.exit(0));
let inbuf = Buffer.alloc(0);
const waiting = [];

function parse() {
  while (waiting.length) {
    const end = inbuf.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = inbuf.subarray(0, end).toString("latin1").split("\r\n");
    const headers = {};
    for (let i = 1; i < head.length; i++) {
      const c = head[i].indexOf(":");
      if (c > 0) headers[head[i].slice(0, c).trim().toLowerCase()] = head[i].slice(c + 1).trim();
    }
    const n = Number(headers["content-length"] || 0);
    if (inbuf.length < end + 4 + n) return;
    const body = inbuf.subarray(end + 4, end + 4 + n);
    inbuf = inbuf.subarray(end + 4 + n);
    waiting.shift()({ status: Number(head[0].split(" ")[1]), headers, body });
  }
}

sock.on("data", (d) => {
  inbuf = inbuf.length ? Buffer.concat([inbuf, d]) : d;
  parse();
});

function encode(method, urlPath, body, headers) {
  const data = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  let head = `${method} ${urlPath} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nContent-Length: ${data.length}\r\n`;
  for (const [k, v] of Object.entries(headers || {})) head += `${k}: ${v}\r\n`;
  return Buffer.concat([Buffer.from(head + "\r\n", "latin1"), data]);
}

function send(reqs) {
  sock.write(Buffer.concat(reqs.map((r) => encode(...r))));
  return reqs.map(() => new Promise((resolve) => waiting.push(resolve)));
}

function request(method, urlPath, body, headers) {
  return send([[method, urlPath, body, headers]])[0];
}

// POST a result and GET the next invocation in one write.
function postThenNext(urlPath, body, headers) {
  return send([["POST", urlPath, body, headers], ["GET", BASE + "/invocation/next"]])[1];
}

let currentRequestId = "";

// ---- response streaming ----

const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HIGH_WATER_MARK = Symbol.for("aws.lambda.runtime.handler.streaming.highWaterMark");
const INTEGRATION = "application/vnd.awslambda.http-integration-response";
const CRLF = Buffer.from("\r\n");

// The response stream a streamifyResponse handler writes to: each write is
// one chunk of a chunked POST .../response, sent at once.  The request
// starts with the first write (or at the end); its last chunk and trailers
// are written by finishStream, with the request for the next invocation.
class ResponseStream extends Writable {
  constructor(url, options) {
    super({ highWaterMark: options && options.highWaterMark });
    this.url = url;
    this.contentType = "application/octet-stream";
    this.posted = null;
  }
  setContentType(ct) {
    if (this.posted) throw new Error("Cannot set content-type, the stream has already started.");
    this.contentType = String(ct);
  }
  begin() {
    if (this.posted) return;
    const head = `POST ${this.url} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\n` +
      "Transfer-Encoding: chunked\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n" +
      `Content-Type: ${this.contentType}\r\n` +
      "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n";
    sock.write(Buffer.from(head, "latin1"));
    this.posted = new Promise((resolve) => waiting.push(resolve));
  }
  _write(chunk, encoding, callback) {
    this.begin();
    if (chunk.length)
      sock.write(Buffer.concat([Buffer.from(chunk.length.toString(16) + "\r\n"), chunk, CRLF]));
    callback();
  }
  _final(callback) {
    this.begin();
    callback();
  }
}

class HttpResponseStream {
  // The prelude a function URL reads: status, headers and cookies as JSON,
  // then eight NUL bytes; the body follows.
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(INTEGRATION);
    underlyingStream.write(JSON.stringify(prelude));
    underlyingStream.write(new Uint8Array(8));
    return underlyingStream;
  }
}

globalThis.awslambda = {
  streamifyResponse(handler, options) {
    handler[STREAMING] = "response";
    if (options && options.highWaterMark) handler[HIGH_WATER_MARK] = options.highWaterMark;
    return handler;
  },
  HttpResponseStream,
};

// Run a streaming handler to its end; returns the next invocation.
async function runStreaming(fn, invocation, url) {
  const stream = new ResponseStream(url, { highWaterMark: fn[HIGH_WATER_MARK] });
  let error;
  try {
    const body = invocation.body;
    const event = body.length ? JSON.parse(body.toString("utf8")) : {};
    await fn(event, stream, makeContext(invocation.headers));
    if (!stream.writableEnded) stream.end();
    await finished(stream);
  } catch (e) {
    error = e === undefined || e === null ? "null" : e;
  }
  stream.begin();
  let last = "0\r\n";
  if (error !== undefined) {
    const err = errorObject(error);
    console.error(`Invoke Error \t${JSON.stringify(err)}`);
    const type = String(err.errorType).replace(/[\r\n]/g, " ");
    last += `Lambda-Runtime-Function-Error-Type: ${type}\r\n` +
      `Lambda-Runtime-Function-Error-Body: ${Buffer.from(JSON.stringify(err)).toString("base64")}\r\n`;
  }
  sock.write(Buffer.concat([Buffer.from(last + "\r\n", "latin1"),
                            encode("GET", BASE + "/invocation/next")]));
  const next = new Promise((resolve) => waiting.push(resolve));
  await stream.posted;
  return next;
}

function patchConsole() {
  const levels = { log: "INFO", info: "INFO", warn: "WARN", error: "ERROR",
                   debug: "DEBUG", trace: "TRACE" };
  for (const [name, level] of Object.entries(levels)) {
    console[name] = (...args) => {
      const msg = util.format(...args);
      process.stdout.write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${msg}\n`);
    };
  }
}

function errorObject(err) {
  if (err instanceof Error) {
    return { errorType: err.name || "Error", errorMessage: err.message,
             trace: (err.stack || "").split("\n") };
  }
  let msg;
  try { msg = typeof err === "string" ? err : JSON.stringify(err); } catch (e) { msg = String(err); }
  return { errorType: "string", errorMessage: msg, trace: [] };
}

class LoadError extends Error {
  constructor(type, message) { super(message); this.name = type; }
}

async function loadHandler(taskRoot, handlerName) {
  const dot = handlerName.lastIndexOf(".");
  if (dot <= 0)
    throw new LoadError("Runtime.MalformedHandlerName", "Bad handler");
  const modPath = handlerName.slice(0, dot);
  const fnPath = handlerName.slice(dot + 1).split(".");
  const base = path.resolve(taskRoot, modPath);
  let mod;
  try {
    const candidates = [".mjs", ".cjs", ".js"].map((e) => base + e);
    const esm = fs.existsSync(base + ".mjs");
    if (esm) {
      mod = await import(pathToFileURL(base + ".mjs").href);
    } else {
      try {
        mod = require(base);
      } catch (e) {
        if (e && e.code === "ERR_REQUIRE_ESM")
          mod = await import(pathToFileURL(candidates.find((c) => fs.existsSync(c)) || base).href);
        else
          throw e;
      }
    }
  } catch (e) {
    if (e && e.code === "MODULE_NOT_FOUND" && String(e.message).includes(base))
      throw new LoadError("Runtime.ImportModuleError",
                          `Error: Cannot find module '${path.basename(modPath)}'\nRequire stack:\n- ${__filename}`);
    if (e instanceof SyntaxError)
      throw new LoadError("Runtime.UserCodeSyntaxError", `${e.name}: ${e.message}`);
    throw e;
  }
  let fn = mod;
  for (const part of fnPath) fn = fn == null ? undefined : fn[part];
  if (typeof fn !== "function" && mod && mod.default && typeof mod.default === "object") {
    fn = mod.default;
    for (const part of fnPath) fn = fn == null ? undefined : fn[part];
  }
  if (typeof fn !== "function")
    throw new LoadError("Runtime.HandlerNotFound", `${handlerName} is undefined or not exported`);
  return fn;
}

function makeContext(headers) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"] || 0);
  const ctx = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    tenantId: headers["lambda-runtime-aws-tenant-id"],
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
  };
  for (const [h, k] of [["lambda-runtime-client-context", "clientContext"],
                        ["lambda-runtime-cognito-identity", "identity"]]) {
    if (headers[h]) { try { ctx[k] = JSON.parse(headers[h]); } catch (e) { /* ignored */ } }
  }
  return ctx;
}

function runHandler(fn, event, ctx) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err); else resolve(result);
    };
    ctx.done = done;
    ctx.succeed = (r) => done(null, r);
    ctx.fail = (e) => done(e === undefined || e === null ? "handled" : e);
    try {
      const r = fn(event, ctx, done);
      if (r && typeof r.then === "function") r.then((v) => done(null, v), (e) => done(e ?? "null"));
      else if (fn.length < 3) done(null, r);
    } catch (e) {
      done(e);
    }
  });
}

async function main() {
  patchConsole();
  const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let fn;
  try {
    fn = await loadHandler(taskRoot, process.env._HANDLER || "");
  } catch (e) {
    const err = errorObject(e);
    console.error(`${err.errorType}: ${err.errorMessage}`);
    await request("POST", BASE + "/init/error", JSON.stringify(err),
                  { "Lambda-Runtime-Function-Error-Type": err.errorType });
    process.exit(1);
  }
  let next = await request("GET", BASE + "/invocation/next");
  for (;;) {
    if (next.status !== 200) process.exit(1);
    const rid = next.headers["lambda-runtime-aws-request-id"];
    currentRequestId = rid;
    const trace = next.headers["lambda-runtime-trace-id"];
    if (trace) process.env._X_AMZN_TRACE_ID = trace; else delete process.env._X_AMZN_TRACE_ID;
    const url = `${BASE}/invocation/${rid}`;
    if (fn[STREAMING] === "response") {
      next = await runStreaming(fn, next, url + "/response");
      continue;
    }
    let body;
    try {
      const event = next.body.length ? JSON.parse(next.body.toString("utf8")) : {};
      const result = await runHandler(fn, event, makeContext(next.headers));
      body = result === undefined ? "null" : JSON.stringify(result);
    } catch (e) {
      const err = errorObject(e);
      console.error(`Invoke Error \t${JSON.stringify(err)}`);
      next = await postThenNext(url + "/error", JSON.stringify(err),
                                { "Lambda-Runtime-Function-Error-Type": err.errorType });
      continue;
    }
    next = await postThenNext(url + "/response", body);
  }
}

main().catch((e) => {
  process.stderr.write(`nimbus runtime: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
