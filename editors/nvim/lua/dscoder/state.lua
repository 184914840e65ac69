-- What the user is told about the server: the engine state from
-- `dscoder/status` and `$/progress` (for the statusline and :checkhealth),
-- one notification per kind of failure (missing binary, failed engine,
-- crash) pointing to :checkhealth dscoder, and the restart after a crash.
-- Everything here is fed by notifications; nothing asks the server.

local M = {}

local uv = vim.uv or vim.loop

--- The engine as last reported: state ('idle', 'loading', 'ready',
--- 'restarting', 'failed', or 'crashed'/'missing' from the client side),
--- message, when that state began (uv.now() ms), and the load percentage.
--- `endpoint` is the replica that served the last request and `endpoint_count`
--- how many the engine has (remote engines; the server pushes them on change).
---@type { state: string?, message: string?, since: integer, percentage: integer?, endpoint: string?, endpoint_count: integer }
M.engine = { state = nil, message = nil, since = 0, percentage = nil, endpoint = nil, endpoint_count = 0 }

---@type table<string, string> why the server excludes a buffer, by URI
M.excluded = {}

--- After this long restarting or loading, :checkhealth turns red.
M.stuck_ms = { restarting = 30000, loading = 120000 }

--- Waits before restarting the client after the n-th crash in a row (ms);
--- after the last one it is not restarted again.
M.restart_delays_ms = { 1000, 2000, 5000, 10000, 30000 }
--- A client that stayed up this long resets the crash count.
M.stable_ms = 60000

local told = {}
local crashes = 0
local started_at = 0

--- One notification per kind (a new kind still gets its own).
---@param kind string
---@param message string
function M.tell(kind, message)
  if told[kind] then
    return
  end
  told[kind] = true
  vim.schedule(function()
    vim.notify(('dscoder: %s (see :checkhealth dscoder)'):format(message), vim.log.levels.ERROR)
  end)
end

---@param state string
---@param message string?
local function set(state, message)
  if M.engine.state ~= state then
    M.engine.since = uv.now()
    M.engine.percentage = nil
  end
  M.engine.state = state
  M.engine.message = message
  pcall(vim.cmd.redrawstatus)
end

---@param params table a dscoder/status notification
function M.on_status(params)
  if type(params) ~= 'table' then
    return
  end
  if params.excluded then
    -- A per-document notice (docs/protocol.md), not a model state.
    M.excluded[params.uri] = params.reason or 'excluded'
    pcall(vim.cmd.redrawstatus)
    return
  end
  local message = params.message ~= vim.NIL and params.message or nil
  if type(params.endpointCount) == 'number' then
    -- Sent by servers that know replicas; a null endpoint: a new engine served nothing yet.
    M.engine.endpoint = type(params.endpoint) == 'string' and params.endpoint or nil
    M.engine.endpoint_count = params.endpointCount
  end
  set(params.state, message)
  if params.state == 'failed' then
    M.tell('failed', 'the engine failed: ' .. tostring(message or 'no reason given'))
  end
end

---@param params table a $/progress notification from the dscoder client
function M.on_progress(params)
  local value = type(params) == 'table' and params.value
  if type(value) ~= 'table' then
    return
  end
  if value.kind == 'end' then
    M.engine.percentage = nil
  elseif M.engine.state == nil or M.engine.state == 'idle' then
    set('loading', value.message)
  end
  if value.kind ~= 'end' and type(value.percentage) == 'number' then
    M.engine.percentage = value.percentage
  end
  pcall(vim.cmd.redrawstatus)
end

--- Called when the dscoder client starts (on_init).
function M.on_start()
  started_at = uv.now()
  if M.engine.state == 'crashed' then
    set('loading', nil)
  end
end

--- Called when the client's server process ends. A clean exit (after
--- shutdown) is left alone; a crash is told once and restarted with backoff.
---@param code integer
---@param signal integer
function M.on_exit(code, signal)
  if code == 0 and signal == 0 then
    return
  end
  if uv.now() - started_at > M.stable_ms then
    crashes = 0
  end
  crashes = crashes + 1
  local why = signal ~= 0 and ('signal %d'):format(signal) or ('exit code %d'):format(code)
  set('crashed', 'dscoder-lsp exited with ' .. why)
  M.tell('crashed', 'dscoder-lsp crashed (' .. why .. ')')
  local delay = M.restart_delays_ms[crashes]
  if delay == nil or not require('dscoder.config').options.restart then
    return
  end
  vim.defer_fn(function()
    if #vim.lsp.get_clients({ name = 'dscoder' }) == 0 then
      -- What vim.lsp.enable does: start the client for every matching buffer.
      pcall(vim.cmd.doautoall, 'nvim.lsp.enable FileType')
    end
  end, delay)
end

--- How many crashes in a row the client has seen (for :checkhealth).
---@return integer
function M.crash_count()
  return crashes
end

--- The server command, when it is a plain argv list.
---@return string[]?
function M.server_cmd()
  local cfg = vim.lsp.config.dscoder
  local cmd = cfg and cfg.cmd
  if type(cmd) == 'table' and type(cmd[1]) == 'string' then
    return cmd
  end
  return nil
end

--- Tell the user once when the server binary cannot be found (Neovim's
--- vim.lsp.enable skips such a config without a word).
---@return boolean found
function M.check_binary()
  local cmd = M.server_cmd()
  if not cmd or vim.fn.executable(cmd[1]) == 1 then
    return true
  end
  set('missing', cmd[1] .. ' not found')
  M.tell('missing', ('%s is not installed or not on PATH'):format(cmd[1]))
  return false
end

--- Why the engine looks stuck, or nil: restarting or loading for too long.
---@return string?
function M.stuck()
  local limit = M.stuck_ms[M.engine.state or '']
  local elapsed = uv.now() - M.engine.since
  if limit and elapsed > limit then
    return ('%s for %d s'):format(M.engine.state, math.floor(elapsed / 1000))
  end
  return nil
end

--- `host:port` of an endpoint URL (what tells replicas apart), else the URL.
---@param url string
---@return string
function M.replica_label(url)
  local authority = url:match('^%a[%w+.-]*://([^/?#]+)')
  if not authority then
    return url
  end
  return (authority:gsub('^.*@', ''))
end

--- The replica that served the last request when there is more than one, else nil.
---@return string?
function M.replica()
  if M.engine.endpoint and M.engine.endpoint_count > 1 then
    return M.replica_label(M.engine.endpoint)
  end
  return nil
end

--- The statusline text for buffer `bufnr`: "dscoder: ready", "dscoder: loading 40%",
--- "dscoder: failed", "dscoder: excluded", ...; "" when there is nothing to say.
--- With several replicas, "dscoder: ready @ 10.0.0.7:8001" names the last one used.
---@param bufnr? integer
---@return string
function M.statusline(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if M.excluded[vim.uri_from_bufnr(bufnr)] then
    return 'dscoder: excluded'
  end
  local state = M.engine.state
  if state == nil then
    return ''
  end
  if state == 'loading' and M.engine.percentage then
    return ('dscoder: loading %d%%'):format(M.engine.percentage)
  end
  local replica = state == 'ready' and M.replica() or nil
  return 'dscoder: ' .. state .. (replica and (' @ ' .. replica) or '')
end

return M
