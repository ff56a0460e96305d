// Talking to the server: every answer is {ok: true, result} or {ok: false, kind, message}.
//
// kind "unreachable": no answer at all (server stopped, network down);
// kind "unexpected": an answer that is not the API's JSON (a proxy's 502 page, say);
// kind "error": the API's own JSON error, whose message says what to do.

async function call(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    return { ok: false, kind: "unreachable", message: "server unreachable: is `digits serve` still running?" };
  }
  let body = null;
  if ((response.headers.get("content-type") || "").includes("application/json")) {
    try {
      body = await response.json();
    } catch {
      body = null;
    }
  }
  if (body === null || typeof body !== "object") {
    return {
      ok: false, kind: "unexpected",
      message: `the server answered something unexpected (HTTP ${response.status}, not the API's JSON)`,
    };
  }
  if (!response.ok) return { ok: false, kind: "error", message: body.error || `the server answered ${response.status}` };
  return { ok: true, result: body };
}

export function predict(body, mode) {
  const url = `/api/predict?preview=true&multi=${mode === "number"}`;
  if (body instanceof File) {
    const form = new FormData();
    form.append("file", body, body.name || "photo");
    return call(url, { method: "POST", body: form });
  }
  return call(url, { method: "POST", headers: { "Content-Type": "image/png" }, body });
}

export async function correctionsStored() {
  const answer = await call("/api/corrections");
  return answer.ok && answer.result.enabled === true;
}

export function sendCorrection(correction) {
  return call("/api/corrections", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(correction),
  });
}

export async function modelCard() {
  const answer = await call("/api/model");
  return answer.ok ? answer.result : null;
}

export async function health() {
  const answer = await call("/api/health");
  return answer.ok ? answer.result : null;
}
