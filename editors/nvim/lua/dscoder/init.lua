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

--- The one switch: turn suggestions on or off, everywhere or for one buffer
--- (`filter.bufnr`, 0 = current), as vim.lsp.inline_completion.enable() does.
---@param enable? boolean default true
---@param filter? { bufnr?: integer }
function M.set_enabled(enable, filter)
  enable = enable ~= false
  local bufnr = filter and filter.bufnr
  if bufnr then
    bufnr = bufnr == 0 and api.nvim_get_current_buf() or bufnr
    vim.b[bufnr].dscoder_enabled = enable
    M.refresh(bufnr)
  else
    global_enabled = enable
    refresh_all()
  end
end

--- Turn suggestions on: everywhere, or for one buffer (`bufnr`, 0 = current).
---@param bufnr? integer
function M.enable(bufnr)
  M.set_enabled(true, { bufnr = bufnr })
end

--- Turn suggestions off: everywhere, or for one buffer (`bufnr`, 0 = current).
---@param bufnr? integer
function M.disable(bufnr)
  M.set_enabled(false, { bufnr = bufnr })
end

---@param bufnr? integer
function M.toggle(bufnr)
  local on = global_enabled
  if bufnr then
    on = M.is_enabled(bufnr == 0 and api.nvim_get_current_buf() or bufnr)
  end
  M.set_enabled(not on, { bufnr = bufnr })
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

--- Show the next (`step` 1) or previous (-1) alternative; false when nothing is shown.
---@param step integer
---@return boolean
function M.cycle(step)
  local bufnr = api.nvim_get_current_buf()
  if attached[bufnr] then
    if vim.lsp.inline_completion.select then
      vim.lsp.inline_completion.select({ count = step })
      return true
    end
    return false
  end
  local ghost = require('dscoder.ghost')
  if attached[bufnr] == false and ghost.visible(bufnr) then
    -- Mappings run under textlock: redraw right after.
    vim.schedule(function()
      ghost.cycle(bufnr, step)
    end)
    return true
  end
  return false
end

local function termcodes(keys)
  return api.nvim_replace_termcodes(keys, true, false, true)
end

--- What pressing `lhs` does when dscoder has nothing to do with it: the mapping
--- it replaced (a completion or snippet plugin's), else the key itself.
---@param lhs string
---@param previous table? the buffer's own mapping before ours (maparg() dict)
---@return fun(): string keys for an expr mapping
local function fallback(lhs, previous)
  return function()
    local mapping = previous
    if not mapping then
      local key = termcodes(lhs)
      for _, global in ipairs(api.nvim_get_keymap('i')) do
        if termcodes(global.lhs) == key then
          mapping = global
          break
        end
      end
    end
    if not mapping or (mapping.desc or ''):match('^dscoder: ') then
      return termcodes(lhs)
    end
    if mapping.callback then
      local result = mapping.callback()
      if mapping.expr == 1 and type(result) == 'string' then
        return mapping.replace_keycodes == 1 and termcodes(result) or result
      end
      return ''
    end
    local rhs = (mapping.rhs or ''):gsub('<[Ss][Ii][Dd]>', ('<SNR>%d_'):format(mapping.sid or 0))
    if mapping.expr == 1 then
      return termcodes(api.nvim_eval(rhs))
    end
    -- A plain mapping: replay it, remapped unless it was noremap.
    api.nvim_feedkeys(termcodes(rhs), mapping.noremap == 1 and 'n' or 'm', false)
    return ''
  end
end

--- The actions behind the <Plug> mappings and the default keys: each returns
--- whether it did something (the default keys then fall back when not).
---@type table<string, { desc: string, run: fun(bufnr: integer): boolean }>
M.actions = {
  accept = { desc = 'accept suggestion', run = function(b) return M.accept('all', b) end },
  accept_word = { desc = 'accept word', run = function(b) return M.accept('word', b) end },
  accept_line = { desc = 'accept line', run = function(b) return M.accept('line', b) end },
  dismiss = { desc = 'dismiss suggestion', run = function() return M.dismiss() end },
  next = { desc = 'next suggestion', run = function() return M.cycle(1) end },
  previous = { desc = 'previous suggestion', run = function() return M.cycle(-1) end },
  trigger = {
    desc = 'suggest',
    run = function()
      vim.schedule(M.trigger) -- mappings run under textlock
      return true
    end,
  },
}

--- The <Plug> name of an action: <Plug>(dscoder-accept-word) for accept_word.
---@param name string
---@return string
function M.plug(name)
  return ('<Plug>(dscoder-%s)'):format(name == 'trigger' and 'suggest' or (name:gsub('_', '-')))
end

--- <Plug>(dscoder-accept), -accept-word, -accept-line, -dismiss, -next,
--- -previous and -suggest, in insert mode, for users' own mappings (defined by
--- plugin/dscoder.lua). They insert nothing when there is nothing to accept.
function M.plug_mappings()
  for name, action in pairs(M.actions) do
    vim.keymap.set('i', M.plug(name), function()
      action.run(api.nvim_get_current_buf())
      return ''
    end, { expr = true, replace_keycodes = false, desc = 'dscoder: ' .. action.desc })
  end
end

---@param bufnr integer
local function set_keymaps(bufnr)
  for name, lhs in pairs(config.options.keymaps) do
    local action = M.actions[name]
    if lhs and action then
      local existing = vim.fn.maparg(lhs, 'i', false, true)
      local previous = (existing.buffer == 1 and not (existing.desc or ''):match('^dscoder: '))
          and existing
        or nil
      local otherwise = fallback(lhs, previous)
      vim.keymap.set('i', lhs, function()
        if action.run(bufnr) then
          return ''
        end
        return otherwise()
      end, { buffer = bufnr, expr = true, replace_keycodes = false, desc = 'dscoder: ' .. action.desc })
    end
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

local excluded = require('dscoder.state').excluded

---@param client_id integer
---@param params table
function M.on_server_status(client_id, params)
  if params and not params.excluded then
    server_status[client_id] = params
  end
  -- Tells the user once on failure, pointing to :checkhealth dscoder.
  require('dscoder.state').on_status(params)
end

--- A statusline component, fed by dscoder/status and $/progress (it never
--- asks the server): "dscoder: ready", "dscoder: loading 40%", "dscoder: failed",
--- "dscoder: excluded" for an excluded buffer; "" before the client starts;
--- "dscoder: ready @ host:port" names the replica when there are several.
---@param bufnr? integer
---@return string
function M.statusline(bufnr)
  return require('dscoder.state').statusline(bufnr)
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
    local engine = require('dscoder.state').engine
    if engine.state == 'crashed' or engine.state == 'missing' then
      return ('dscoder: %s; %s (see :checkhealth dscoder)'):format(switches, engine.message)
    end
    return 'dscoder: ' .. switches .. '; no dscoder-lsp client (is it enabled and installed?)'
  end
  local server = stats.server
  local latency = server.lastLatencyMs
  local reason = excluded[vim.uri_from_bufnr(bufnr)]
  if reason then
    switches = switches .. ', excluded (' .. reason .. ')'
  end
  local line = ('dscoder: %s | model %s (%s) | engine %s | last latency %s | requests %s, cancelled %s'):format(
    switches,
    server.model or '?',
    server.modelState or '?',
    server.engine or '?',
    latency and ('%.0f ms'):format(latency) or '-',
    tostring(server.requests or '?'),
    tostring(stats.client.cancelled)
  )
  local endpoints = type(server.endpoints) == 'table' and #server.endpoints or 0
  if endpoints > 1 and type(server.lastEndpoint) == 'string' then
    local replica = require('dscoder.state').replica_label(server.lastEndpoint)
    line = ('%s | replica %s of %d'):format(line, replica, endpoints)
  end
  return line
end

return M
