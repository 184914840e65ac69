-- dscoder.nvim: Copilot-style ghost text from dscoder-lsp.
--
-- The LSP client itself is Neovim's (lsp/dscoder.lua, `vim.lsp.enable('dscoder')`).
-- This module wires it to a renderer when the client attaches: the built-in
-- vim.lsp.inline_completion on 0.12+, dscoder.ghost on 0.11. It also owns the
-- on/off switches, the keymaps and :Dscoder status.

local api = vim.api
local config = require('dscoder.config')

local M = {}

local global_enabled = true
---@type table<integer, boolean> buffers handled, with whether the built-in renders them
local attached = {}
---@type table<integer, table> last dscoder/status notification per client
local server_status = {}

--- Configure the plugin and the LSP client, and enable the client.
---@param opts? dscoder.Options|table
function M.setup(opts)
  local options = config.set(opts)
  if next(options.server) ~= nil then
    vim.lsp.config('dscoder', options.server)
  end
  if options.enable_lsp then
    vim.lsp.enable('dscoder')
  end
  for bufnr in pairs(attached) do
    M.refresh(bufnr)
  end
end

--- Whether buffer `bufnr` gets suggestions: its own switch, else the filetype
--- list, else the global switch.
---@param bufnr? integer
---@return boolean
function M.is_enabled(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local own = vim.b[bufnr].dscoder_enabled
  if own ~= nil then
    return own
  end
  if vim.tbl_contains(config.options.disabled_filetypes, vim.bo[bufnr].filetype) then
    return false
  end
  return global_enabled
end

--- Apply the switches to one buffer.
---@param bufnr integer
function M.refresh(bufnr)
  if attached[bufnr] == nil or not api.nvim_buf_is_valid(bufnr) then
    return
  end
  local on = M.is_enabled(bufnr)
  if attached[bufnr] then
    require('dscoder.builtin').set(bufnr, on and config.options.auto_trigger)
  elseif not on then
    require('dscoder.ghost').reset(bufnr)
  end
end

local function refresh_all()
  for bufnr in pairs(attached) do
    M.refresh(bufnr)
  end
end

--- Turn suggestions on: everywhere, or for one buffer (`bufnr`, 0 = current).
---@param bufnr? integer
function M.enable(bufnr)
  if bufnr then
    bufnr = bufnr == 0 and api.nvim_get_current_buf() or bufnr
    vim.b[bufnr].dscoder_enabled = true
    M.refresh(bufnr)
  else
    global_enabled = true
    refresh_all()
  end
end

--- Turn suggestions off: everywhere, or for one buffer (`bufnr`, 0 = current).
---@param bufnr? integer
function M.disable(bufnr)
  if bufnr then
    bufnr = bufnr == 0 and api.nvim_get_current_buf() or bufnr
    vim.b[bufnr].dscoder_enabled = false
    M.refresh(bufnr)
  else
    global_enabled = false
    refresh_all()
  end
end

---@param bufnr? integer
function M.toggle(bufnr)
  local on = global_enabled
  if bufnr then
    on = M.is_enabled(bufnr == 0 and api.nvim_get_current_buf() or bufnr)
  end
  if on then
    M.disable(bufnr)
  else
    M.enable(bufnr)
  end
end

--- Switch between suggestions while typing and only on the trigger key.
---@param value? boolean default: flip
function M.set_auto_trigger(value)
  if value == nil then
    value = not config.options.auto_trigger
  end
  config.options.auto_trigger = value
  refresh_all()
  return value
end

---@param part 'all'|'word'|'line'
---@param bufnr? integer
---@return boolean accepted (false when no suggestion is shown)
function M.accept(part, bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  if attached[bufnr] then
    return require('dscoder.builtin').accept(part)
  end
  local ghost = require('dscoder.ghost')
  if not ghost.visible(bufnr) then
    return false
  end
  -- Expr mappings run under textlock: edit the buffer right after.
  vim.schedule(function()
    ghost.accept(bufnr, part)
  end)
  return true
end

--- Ask for a suggestion now (0.11 renderer; the built-in asks by itself).
function M.trigger()
  local bufnr = api.nvim_get_current_buf()
  if attached[bufnr] == false then
    require('dscoder.ghost').request(bufnr, require('dscoder.ghost').INVOKED)
  end
end

--- Hide the suggestion; false when none was shown.
---@return boolean
function M.dismiss()
  local bufnr = api.nvim_get_current_buf()
  local ghost = require('dscoder.ghost')
  if attached[bufnr] == false and ghost.visible(bufnr) then
    ghost.reset(bufnr)
    return true
  end
  return false
end

local function termcodes(keys)
  return api.nvim_replace_termcodes(keys, true, false, true)
end

---@param bufnr integer
local function set_keymaps(bufnr)
  local keys = config.options.keymaps
  local function map(lhs, desc, action)
    if lhs then
      vim.keymap.set('i', lhs, function()
        if action() then
          return ''
        end
        return termcodes(lhs)
      end, { buffer = bufnr, expr = true, replace_keycodes = false, desc = desc })
    end
  end
  map(keys.accept, 'dscoder: accept suggestion', function()
    return M.accept('all', bufnr)
  end)
  map(keys.accept_word, 'dscoder: accept word', function()
    return M.accept('word', bufnr)
  end)
  map(keys.accept_line, 'dscoder: accept line', function()
    return M.accept('line', bufnr)
  end)
  map(keys.dismiss, 'dscoder: dismiss suggestion', M.dismiss)
  if keys.trigger then
    vim.keymap.set('i', keys.trigger, M.trigger, { buffer = bufnr, desc = 'dscoder: suggest' })
  end
end

--- Called on LspAttach for the dscoder client.
---@param client vim.lsp.Client
---@param bufnr integer
function M.attach(client, bufnr)
  if client.name ~= 'dscoder' or attached[bufnr] ~= nil then
    return
  end
  local builtin = config.use_builtin()
  attached[bufnr] = builtin
  if not builtin then
    require('dscoder.ghost').attach(bufnr)
  end
  set_keymaps(bufnr)
  M.refresh(bufnr)
end

---@param bufnr integer
function M.detach(bufnr)
  if attached[bufnr] == false then
    require('dscoder.ghost').detach(bufnr)
  end
  attached[bufnr] = nil
end

---@type table<string, string> why the server excludes a buffer, by URI
local excluded = {}

---@param client_id integer
---@param params table
function M.on_server_status(client_id, params)
  if params and params.excluded then
    -- A per-document notice (docs/security.md), not a model state.
    excluded[params.uri] = params.reason or 'excluded'
    return
  end
  server_status[client_id] = params
  if params and params.state == 'failed' then
    vim.notify('dscoder: ' .. tostring(params.message), vim.log.levels.ERROR)
  end
end

--- Server counters from dscoder/stats plus the plugin's own; nil without a client.
---@param bufnr? integer
---@param timeout_ms? integer
---@return table?
function M.stats(bufnr, timeout_ms)
  bufnr = bufnr or api.nvim_get_current_buf()
  local client = vim.lsp.get_clients({ bufnr = bufnr, name = 'dscoder' })[1]
    or vim.lsp.get_clients({ name = 'dscoder' })[1]
  if not client then
    return nil
  end
  local response = client:request_sync('dscoder/stats', vim.empty_dict(), timeout_ms or 2000, bufnr)
  local server = response and response.result or {}
  return {
    server = server,
    client = vim.deepcopy(require('dscoder.ghost').counters),
    status = server_status[client.id],
    server_info = client.server_info,
    renderer = attached[bufnr] and 'builtin' or 'plugin',
  }
end

--- One line for :Dscoder status.
---@param bufnr? integer
---@return string
function M.status_line(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local switches = ('%s, buffer %s, auto-trigger %s'):format(
    global_enabled and 'enabled' or 'disabled',
    M.is_enabled(bufnr) and 'on' or 'off',
    config.options.auto_trigger and 'on' or 'off'
  )
  local stats = M.stats(bufnr)
  if not stats then
    return 'dscoder: ' .. switches .. '; no dscoder-lsp client (is it enabled and installed?)'
  end
  local server = stats.server
  local latency = server.lastLatencyMs
  local reason = excluded[vim.uri_from_bufnr(bufnr)]
  if reason then
    switches = switches .. ', excluded (' .. reason .. ')'
  end
  return ('dscoder: %s | model %s (%s) | engine %s | last latency %s | requests %s, cancelled %s'):format(
    switches,
    server.model or '?',
    server.modelState or '?',
    server.engine or '?',
    latency and ('%.0f ms'):format(latency) or '-',
    tostring(server.requests or '?'),
    tostring(stats.client.cancelled)
  )
end

return M
