'use strict';
// Plain fetch-based GraphQL client for scenario setup and response checks.

const REQUEST_TIMEOUT_MS = 10_000;

function jsonHeaders(headers) {
  return { 'content-type': 'application/json', ...headers };
}

function bearer(key) {
  return { authorization: `Bearer ${key}` };
}

// Sends one request and returns { status, json, text } without judging it.
async function post(url, body, headers) {
  const res = await fetch(url, {
    method: 'POST',
    headers: jsonHeaders(headers),
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // left null: reported by checkResponse
  }
  return { status: res.status, json, text };
}

// Returns null when the response is a 2xx JSON body with data and no errors,
// otherwise a short description of what is wrong.
function checkResponse({ status, json, text }) {
  const messages = json && Array.isArray(json.errors) ? json.errors.map((e) => e.message).join('; ') : null;
  if (status < 200 || status >= 300) return `HTTP ${status}: ${messages || text.slice(0, 300)}`;
  if (!json) return `body is not JSON: ${text.slice(0, 300)}`;
  if (messages) return `GraphQL errors: ${messages}`;
  if (!json.data) return `no data in body: ${text.slice(0, 300)}`;
  return null;
}

// Runs a query and returns its data; throws on any HTTP or GraphQL error.
async function gql(url, query, variables, headers) {
  const res = await post(url, variables ? { query, variables } : { query }, headers);
  const problem = checkResponse(res);
  if (problem) throw new Error(problem);
  return res.json.data;
}

module.exports = { post, gql, checkResponse, bearer, jsonHeaders };
