#!/usr/bin/env node
// Drives the unmodified @remove-background-ai/rembg.js client against our server.
//
// Usage: REMBG_BASE_URL=http://127.0.0.1:8000 node harness.cjs '<json>'
//   (or the JSON on stdin when no argument is given)
//
// JSON: {
//   "apiKey": "...",                        // rembg.js refuses to run without one
//   "input": "path" | "buffer" | "base64" | "data_url",
//   "file": "/abs/path/to/image",           // read by us for buffer/base64 inputs
//   "options": { ... }                      // passed to rembg() as is
// }
//
// Prints one JSON line on stdout:
//   success: {"ok": true, "outputImagePath": "...", "outputBase64": "<file bytes>"}
//            or {"ok": true, "base64Image": "data:image/png;base64,..."}
//   failure: {"ok": false, "error": "<message of the Error rembg.js threw>"}
// plus "request": what the client put on the wire (method, url, headers).
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { createRequire } = require("node:module");

const PACKAGE = "@remove-background-ai/rembg.js";
const UPSTREAM = "https://api.rembg.com/rmbg";

// rembg.js calls the default export of *its own* axios. Resolve axios from the
// package's location so the interceptor lands on that very instance, whatever
// npm's hoisting decides.
const packageEntry = require.resolve(PACKAGE);
const axios = createRequire(packageEntry)("axios");
const { rembg } = require(PACKAGE);

function readParams() {
  const raw = process.argv[2] ?? fs.readFileSync(0, "utf8");
  return JSON.parse(raw);
}

function inputImage(params) {
  switch (params.input) {
    case "path":
      return params.file;
    case "buffer":
      return fs.readFileSync(params.file);
    case "base64":
      return { base64: fs.readFileSync(params.file).toString("base64") };
    case "data_url":
      return {
        base64: `data:image/jpeg;base64,${fs.readFileSync(params.file).toString("base64")}`,
      };
    default:
      throw new Error(`unknown input kind: ${params.input}`);
  }
}

function redirectTo(baseUrl, seen) {
  axios.interceptors.request.use((config) => {
    if (config.url !== UPSTREAM) {
      // The package changed its endpoint: fail rather than guess.
      throw new Error(`unexpected upstream URL ${config.url}`);
    }
    config.url = new URL("/rmbg", baseUrl).toString();
    // A loopback server must never be reached through an HTTP(S)_PROXY.
    config.proxy = false;
    seen.method = config.method;
    seen.url = config.url;
    seen.headers = { ...(config.headers.toJSON?.() ?? config.headers) };
    return config;
  });
}

async function main() {
  const baseUrl = process.env.REMBG_BASE_URL;
  if (!baseUrl) throw new Error("REMBG_BASE_URL is not set");
  const params = readParams();
  const request = {};
  redirectTo(baseUrl, request);

  const noop = () => {}; // the defaults console.log progress events to stdout
  let result;
  try {
    result = await rembg({
      apiKey: params.apiKey,
      inputImage: inputImage(params),
      options: params.options,
      onUploadProgress: noop,
      onDownloadProgress: noop,
    });
  } catch (error) {
    return { ok: false, error: error.message, request };
  }
  if (!request.url) {
    // The interceptor never ran, so the request cannot have reached our server.
    return { ok: false, error: "harness: request was not redirected", request };
  }
  if (result.base64Image !== undefined) {
    return { ok: true, base64Image: result.base64Image, request };
  }
  const bytes = fs.readFileSync(result.outputImagePath);
  await result.cleanup();
  return {
    ok: true,
    outputImagePath: result.outputImagePath,
    outputExtension: path.extname(result.outputImagePath),
    outputBase64: bytes.toString("base64"),
    request,
  };
}

main().then(
  (out) => {
    // Exit explicitly: with a Buffer or base64 input, axios 1.21 pipes the
    // all-in-memory form-data body without ever ending the request, so a
    // keep-alive socket to an HTTP/1.1 server would hold node open until the
    // server closes it (Django's test server never does).
    process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
  },
  (error) => {
    process.stderr.write(`harness failed: ${error.stack || error}\n`);
    process.exit(2);
  },
);
