-- Ghost text for Neovim 0.11, which has no vim.lsp.inline_completion.
--
-- Sends textDocument/inlineCompletion itself (the server answers it even though
-- 0.11 does not declare the capability), debounced, and cancels the previous
-- request with client:cancel_request whenever the text changes. The suggestion
-- is drawn with one extmark: the first line inline at the cursor, the rest as
-- virt_lines. Typing characters that match it (Enter and the indentation too)
-- shortens it at once, without a new request, as llama.vim does.

local api = vim.api
local text_util = require('dscoder.text')

local M = {}

M.ns = api.nvim_create_namespace('dscoder.ghost')
M.hl = 'DscoderGhostText'

local INVOKED, AUTOMATIC = 1, 2

---@class dscoder.Suggestion
---@field row integer 0-based line of the anchor
---@field col integer byte column of the anchor (where the text goes)
---@field before string line text before the anchor
---@field replaced string text after the anchor that accepting replaces (usually '')
---@field after string line text after `replaced`
---@field text string what accepting inserts
---@field item table the server's lsp.InlineCompletionItem (its command carries the id)
---@field items table[] all items of the answer (alternatives to cycle)
---@field index integer which of `items` is shown
---@field anchor table where the request was made (to draw another alternative)
---@field typed string text typed through since the anchor
---@field accepted_units integer UTF-16 code units of the item already in the buffer

---@class dscoder.BufferState
---@field timer? uv.uv_timer_t
---@field request? { client: vim.lsp.Client, id: integer, sent: integer, select: integer }
---@field suggestion? dscoder.Suggestion
---@field augroup integer

---@type table<integer, dscoder.BufferState>
local buffers = {}

--- Client-side counters, shown by :Dscoder status.
M.counters = {
  requests = 0,
  cancelled = 0,
  stale = 0,
  shown = 0,
  typed_through = 0,
  accepted = 0,
  partially_accepted = 0,
  cycled = 0,
  last_latency_ms = nil, ---@type number?
}

--- UTF-16 code units of `text`, the unit of acceptedLength.
---@param text string
---@return integer
local function utf16_units(text)
  local ok, units = pcall(vim.str_utfindex, text, 'utf-16')
  if not ok then
    units = select(2, vim.str_utfindex(text))
  end
  return units
end

--- The item as sent back in the signals: its text and command (which has the id).
---@param item table
local function wire(item)
  return { insertText = item.insertText, range = item.range, command = item.command }
end

--- Tell the server about the shown suggestion (acceptance signals; see docs/editors.md).
---@param bufnr integer
---@param method string
---@param params table
local function signal(bufnr, method, params)
  local client = M.client(bufnr)
  if client then
    client:notify(method, params)
  end
end

--- Run the item's command (dscoder.accepted): the server counts a whole accept.
---@param bufnr integer
---@param item table
local function run_command(bufnr, item)
  local client = M.client(bufnr)
  local command = item.command
  if not client or type(command) ~= 'table' or not command.command then
    return
  end
  client:request('workspace/executeCommand', {
    command = command.command,
    arguments = command.arguments,
  }, function() end, bufnr)
end

---@param bufnr integer
---@return vim.lsp.Client?
function M.client(bufnr)
  return vim.lsp.get_clients({ bufnr = bufnr, name = 'dscoder' })[1]
end

local function line_at(bufnr, row)
  return api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
end

local function in_insert_mode()
  return api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

local function enabled(bufnr)
  return require('dscoder').is_enabled(bufnr)
end

local function auto_trigger()
  return require('dscoder.config').options.auto_trigger
end

---@param st dscoder.BufferState
local function stop_timer(st)
  local timer = st.timer
  st.timer = nil
  if timer and not timer:is_closing() then
    timer:stop()
    timer:close()
  end
end

--- Cancel the request in flight, if any: its answer is for text that changed.
---@param st dscoder.BufferState
local function cancel_request(st)
  local request = st.request
  st.request = nil
  if request then
    request.client:cancel_request(request.id)
    M.counters.cancelled = M.counters.cancelled + 1
  end
end

---@param bufnr integer
---@param s dscoder.Suggestion
local function render(bufnr, s)
  api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  local lines = vim.split(s.text, '\n', { plain = true })
  local opts = { virt_text_pos = 'inline', hl_mode = 'combine' }
  if lines[1] ~= '' then
    opts.virt_text = { { lines[1], M.hl } }
  end
  if #lines > 1 then
    local tabstop = vim.bo[bufnr].tabstop
    local virt_lines = {}
    for i = 2, #lines do
      -- virt_lines start at screen column 0: expanding tabs keeps the indent right.
      local shown = lines[i]:gsub('\t', string.rep(' ', tabstop))
      virt_lines[#virt_lines + 1] = { { shown, M.hl } }
    end
    opts.virt_lines = virt_lines
  end
  api.nvim_buf_set_extmark(bufnr, M.ns, s.row, s.col, opts)
end

---@param bufnr integer
---@return dscoder.BufferState
local function state(bufnr)
  local st = buffers[bufnr]
  if not st then
    st = { augroup = -1 }
    buffers[bufnr] = st
  end
  return st
end

--- Remove the suggestion (the request in flight, if any, goes on).
---@param bufnr integer
function M.hide(bufnr)
  local st = buffers[bufnr]
  if st then
    st.suggestion = nil
  end
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
end

--- Hide the suggestion and stop anything pending for the buffer.
---@param bufnr integer
function M.reset(bufnr)
  local st = buffers[bufnr]
  if st then
    stop_timer(st)
    cancel_request(st)
  end
  M.hide(bufnr)
end

--- The text typed at the suggestion's anchor, if the buffer and cursor still
--- fit it: the line starts with `before`, the cursor's line ends with the
--- replaced text and `after`, and the cursor is at most as many lines below the
--- anchor as the suggestion has line breaks (typing through Enter and the
--- editor's indentation). nil when they do not fit.
---@param bufnr integer
---@param s dscoder.Suggestion
---@param row integer
---@param col integer
---@return string?
local function typed_at_anchor(bufnr, s, row, col)
  local _, breaks = s.text:gsub('\n', '')
  if row < s.row or row - s.row > breaks then
    return nil
  end
  local lines = api.nvim_buf_get_lines(bufnr, s.row, row + 1, false)
  local last = lines[#lines] or ''
  local tail = s.replaced .. s.after
  if not vim.startswith(lines[1] or '', s.before) or last:sub(col + 1) ~= tail then
    return nil
  end
  if #lines == 1 and col < #s.before then
    return nil
  end
  lines[#lines] = last:sub(1, col)
  lines[1] = lines[1]:sub(#s.before + 1)
  return table.concat(lines, '\n')
end

--- Check the suggestion against the buffer and cursor. Characters typed at the
--- anchor that match the suggestion are taken off its front (typing through,
--- across line breaks too); anything else removes it. Returns whether a
--- suggestion is still shown. No request is sent while it is.
---@param bufnr integer
---@return boolean
function M.sync(bufnr)
  local st = buffers[bufnr]
  local s = st and st.suggestion
  if not s then
    return false
  end
  local win = api.nvim_get_current_win()
  local valid, typed = false, ''
  local row, col = 0, 0
  if api.nvim_win_get_buf(win) == bufnr and in_insert_mode() then
    local cursor = api.nvim_win_get_cursor(win)
    row, col = cursor[1] - 1, cursor[2]
    local at_anchor = typed_at_anchor(bufnr, s, row, col)
    typed = at_anchor or ''
    valid = at_anchor ~= nil
      and vim.startswith(s.text, typed)
      and #typed < #s.text
      and (typed == '' or s.replaced == '')
  end
  if not valid then
    M.hide(bufnr)
    return false
  end
  if typed ~= '' then
    s.text = s.text:sub(#typed + 1)
    s.row, s.col = row, col
    s.before = line_at(bufnr, row):sub(1, col)
    s.typed = s.typed .. typed
    s.accepted_units = s.accepted_units + utf16_units(typed)
    M.counters.typed_through = M.counters.typed_through + 1
  end
  render(bufnr, s)
  return true
end

---@param anchor table
---@param item table lsp.InlineCompletionItem
---@return dscoder.Suggestion?
local function suggestion_from(anchor, item)
  local text = item.insertText
  if type(text) == 'table' then
    text = text.value -- a snippet: shown and inserted as plain text
  end
  if type(text) ~= 'string' or text == '' then
    return nil
  end
  local replaced = ''
  local range = item.range
  if range then
    if range.start.line ~= anchor.row or range['end'].line ~= anchor.row then
      return nil
    end
    local start = vim.str_byteindex(anchor.line, anchor.encoding, range.start.character, false)
    local finish = vim.str_byteindex(anchor.line, anchor.encoding, range['end'].character, false)
    if start > anchor.col then
      return nil
    end
    -- A range that starts before the cursor repeats what is already typed.
    local already = anchor.line:sub(start + 1, anchor.col)
    if not vim.startswith(text, already) then
      return nil
    end
    text = text:sub(#already + 1)
    if finish > anchor.col then
      replaced = anchor.line:sub(anchor.col + 1, finish)
    end
  end
  if text == '' then
    return nil
  end
  return {
    row = anchor.row,
    col = anchor.col,
    before = anchor.before,
    replaced = replaced,
    after = anchor.after:sub(#replaced + 1),
    text = text,
    item = item,
    items = { item },
    index = 1,
    anchor = anchor,
    typed = '',
    -- Units of the item before the anchor (a range that starts before the cursor).
    accepted_units = utf16_units(type(item.insertText) == 'table' and item.insertText.value
      or item.insertText) - utf16_units(text),
  }
end

---@param bufnr integer
---@param id integer
---@param anchor table
local function on_result(bufnr, id, anchor, err, result)
  local st = buffers[bufnr]
  if not st or not st.request or st.request.id ~= id then
    M.counters.stale = M.counters.stale + 1
    return
  end
  local request = st.request
  M.counters.last_latency_ms = (vim.uv.hrtime() - request.sent) / 1e6
  st.request = nil
  if err then
    vim.lsp.log.warn('dscoder: inlineCompletion failed', err)
    return
  end
  if not api.nvim_buf_is_valid(bufnr) or not in_insert_mode() or not enabled(bufnr) then
    return
  end
  local items = result and (result.items or result) or {}
  local select = math.min(request.select, #items)
  local s = items[select] and suggestion_from(anchor, items[select])
  if not s then
    return
  end
  s.items, s.index = items, select
  st.suggestion = s
  M.counters.shown = M.counters.shown + 1
  signal(bufnr, 'textDocument/didShowCompletion', { item = wire(s.item) })
  -- The user may have typed while the server worked: check against the buffer now.
  M.sync(bufnr)
end

--- Ask the server for a suggestion at the cursor now.
---@param bufnr integer
---@param kind? integer InlineCompletionTriggerKind (1 invoked, 2 automatic)
---@param select? integer which item of the answer to show (default 1)
function M.request(bufnr, kind, select)
  local st = state(bufnr)
  stop_timer(st)
  cancel_request(st)
  if not api.nvim_buf_is_valid(bufnr) or api.nvim_get_current_buf() ~= bufnr then
    return
  end
  if not in_insert_mode() or not enabled(bufnr) then
    return
  end
  local client = M.client(bufnr)
  if not client then
    return
  end
  local win = api.nvim_get_current_win()
  local params = vim.lsp.util.make_position_params(win, client.offset_encoding)
  ---@diagnostic disable-next-line: inject-field
  params.context = { triggerKind = kind or AUTOMATIC }
  local cursor = api.nvim_win_get_cursor(win)
  local row, col = cursor[1] - 1, cursor[2]
  local line = line_at(bufnr, row)
  local anchor = {
    row = row,
    col = col,
    line = line,
    before = line:sub(1, col),
    after = line:sub(col + 1),
    encoding = client.offset_encoding,
  }
  local id ---@type integer?
  local ok
  ok, id = client:request('textDocument/inlineCompletion', params, function(err, result)
    on_result(bufnr, id, anchor, err, result)
  end, bufnr)
  if ok and id then
    st.request = { client = client, id = id, sent = vim.uv.hrtime(), select = select or 1 }
    M.counters.requests = M.counters.requests + 1
  end
end

--- The text changed without matching the suggestion: drop what is pending and
--- ask again after the debounce.
---@param bufnr integer
function M.schedule(bufnr)
  local st = state(bufnr)
  stop_timer(st)
  cancel_request(st)
  if not enabled(bufnr) or not auto_trigger() then
    return
  end
  local delay = require('dscoder.config').options.debounce_ms
  if delay <= 0 then
    M.request(bufnr, AUTOMATIC)
    return
  end
  local timer = assert(vim.uv.new_timer())
  st.timer = timer
  timer:start(
    delay,
    0,
    vim.schedule_wrap(function()
      if st.timer ~= timer then
        return
      end
      stop_timer(st)
      M.request(bufnr, AUTOMATIC)
    end)
  )
end

--- Whether a suggestion is shown in the buffer.
---@param bufnr? integer
---@return boolean
function M.visible(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local st = buffers[bufnr]
  return st ~= nil and st.suggestion ~= nil
end

--- Whether a request is waiting for the server (for tests and status lines).
---@param bufnr? integer
---@return boolean
function M.pending(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local st = buffers[bufnr]
  return st ~= nil and (st.request ~= nil or st.timer ~= nil)
end

--- Whether a request has been sent and not answered yet.
---@param bufnr? integer
---@return boolean
function M.in_flight(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local st = buffers[bufnr]
  return st ~= nil and st.request ~= nil
end

--- The text accepting would insert, or nil.
---@param bufnr? integer
---@return string?
function M.text(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local st = buffers[bufnr]
  return st and st.suggestion and st.suggestion.text or nil
end

--- Insert all, the next word or the rest of the line of the suggestion. Must not
--- run under textlock (expr mappings): callers wrap it in vim.schedule.
---@param bufnr integer
---@param part 'all'|'word'|'line'
---@return boolean accepted
function M.accept(bufnr, part)
  if not M.sync(bufnr) then
    return false
  end
  local st = buffers[bufnr]
  local s = assert(st.suggestion)
  local chunk = text_util.chunk(s.text, part)
  local rest = s.text:sub(#chunk + 1)
  local lines = vim.split(chunk, '\n', { plain = true })
  -- The replaced text goes only when the last of the suggestion goes in.
  local replace_end = rest == '' and s.col + #s.replaced or s.col
  api.nvim_buf_set_text(bufnr, s.row, s.col, s.row, replace_end, lines)
  local row = s.row + #lines - 1
  local col = (#lines == 1 and s.col or 0) + #lines[#lines]
  api.nvim_win_set_cursor(0, { row + 1, col })
  M.counters.accepted = M.counters.accepted + 1
  if rest == '' then
    M.hide(bufnr)
    run_command(bufnr, s.item)
    return true
  end
  s.accepted_units = s.accepted_units + utf16_units(chunk)
  M.counters.partially_accepted = M.counters.partially_accepted + 1
  signal(bufnr, 'textDocument/didPartiallyAcceptCompletion', {
    item = wire(s.item),
    acceptedLength = s.accepted_units,
  })
  -- Re-anchor after the inserted part: the rest stays, with no new request.
  local line = line_at(bufnr, row)
  s.row, s.col, s.text = row, col, rest
  s.before = line:sub(1, col)
  s.after = line:sub(col + #s.replaced + 1)
  render(bufnr, s)
  return true
end

--- Show the next (`step` 1) or previous (-1) alternative. With only one item
--- (automatic requests get one), ask for alternatives (an invoked request) and
--- show the next of them. Returns whether there was a suggestion to cycle.
---@param bufnr integer
---@param step integer
---@return boolean
function M.cycle(bufnr, step)
  if not M.sync(bufnr) then
    return false
  end
  local st = buffers[bufnr]
  local s = assert(st.suggestion)
  if #s.items <= 1 then
    if s.typed == '' then
      M.request(bufnr, INVOKED, 2)
    end
    return true
  end
  if s.typed:find('\n', 1, true) then
    return true -- typed through a line break: the alternatives' anchor is behind
  end
  -- Among the items that still fit what was typed through, the next one round.
  for offset = 1, #s.items - 1 do
    local index = (s.index - 1 + step * offset) % #s.items + 1
    local candidate = suggestion_from(s.anchor, s.items[index])
    if candidate and vim.startswith(candidate.text, s.typed) and #candidate.text > #s.typed then
      candidate.items, candidate.index = s.items, index
      candidate.text = candidate.text:sub(#s.typed + 1)
      candidate.before = candidate.before .. s.typed
      candidate.col = candidate.col + #s.typed
      candidate.typed = s.typed
      candidate.accepted_units = candidate.accepted_units + utf16_units(s.typed)
      st.suggestion = candidate
      M.counters.cycled = M.counters.cycled + 1
      render(bufnr, candidate)
      signal(bufnr, 'textDocument/didShowCompletion', { item = wire(candidate.item) })
      return true
    end
  end
  return true
end

--- The index of the shown alternative and how many there are (1, 1 for one item).
---@param bufnr? integer
---@return integer?, integer?
function M.alternative(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local st = buffers[bufnr]
  local s = st and st.suggestion
  if not s then
    return nil, nil
  end
  return s.index, #s.items
end

--- Start handling a buffer the dscoder client attached to.
---@param bufnr integer
function M.attach(bufnr)
  local st = state(bufnr)
  if st.augroup ~= -1 then
    return
  end
  st.augroup = api.nvim_create_augroup('dscoder.ghost.' .. bufnr, { clear = true })
  local function on(events, callback)
    api.nvim_create_autocmd(events, { group = st.augroup, buffer = bufnr, callback = callback })
  end
  on('InsertEnter', function()
    M.schedule(bufnr)
  end)
  on('CursorMovedI', function()
    M.sync(bufnr)
  end)
  on('TextChangedI', function()
    if not M.sync(bufnr) then
      M.schedule(bufnr)
    end
  end)
  on({ 'InsertLeave', 'BufLeave', 'CursorMoved' }, function()
    M.reset(bufnr)
  end)
  on({ 'BufUnload', 'BufWipeout' }, function()
    M.detach(bufnr)
  end)
end

---@param bufnr integer
function M.detach(bufnr)
  local st = buffers[bufnr]
  if not st then
    return
  end
  M.reset(bufnr)
  if st.augroup ~= -1 then
    pcall(api.nvim_del_augroup_by_id, st.augroup)
  end
  buffers[bufnr] = nil
end

M.INVOKED, M.AUTOMATIC = INVOKED, AUTOMATIC

return M
