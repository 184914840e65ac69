-- Neovim 0.12+: ghost text from the built-in vim.lsp.inline_completion.
--
-- The built-in requests, debounces, draws and accepts whole suggestions; this
-- module only switches it per buffer and adds accept-word and accept-line
-- through get()'s on_accept hook.

local api = vim.api
local text_util = require('dscoder.text')

local M = {}

---@param bufnr integer
---@param on boolean
function M.set(bufnr, on)
  -- A buffer filter only: with client_id too, the switch would apply to every
  -- buffer of the client.
  vim.lsp.inline_completion.enable(on, { bufnr = bufnr })
end

---@param bufnr integer
---@return boolean
function M.is_on(bufnr)
  return vim.lsp.inline_completion.is_enabled({ bufnr = bufnr })
end

--- Insert part of the built-in's current item at the cursor.
---@param part 'word'|'line'
local function accept_part(part)
  return function(item)
    local text = item.insert_text
    if type(text) == 'table' then
      text = text.value
    end
    local win = api.nvim_get_current_win()
    local bufnr = api.nvim_win_get_buf(win)
    local cursor = api.nvim_win_get_cursor(win)
    local row, col = cursor[1] - 1, cursor[2]
    if item.range and item.range.start.row == row and item.range.start.col <= col then
      -- Drop what the item repeats from before the cursor.
      local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
      local typed = line:sub(item.range.start.col + 1, col)
      if vim.startswith(text, typed) then
        text = text:sub(#typed + 1)
      end
    end
    local chunk = text_util.chunk(text, part)
    local lines = vim.split(chunk, '\n', { plain = true })
    api.nvim_buf_set_text(bufnr, row, col, row, col, lines)
    api.nvim_win_set_cursor(win, { row + #lines, (#lines == 1 and col or 0) + #lines[#lines] })
    -- The built-in runs item.command only on a whole accept; tell the server of the part.
    local client = item.client_id and vim.lsp.get_client_by_id(item.client_id)
    if client then
      local full = item.insert_text
      full = type(full) == 'table' and full.value or full
      local kept = #full - #text + #chunk -- bytes of the item now in the buffer
      client:notify('textDocument/didPartiallyAcceptCompletion', {
        item = { insertText = full, command = item.command },
        acceptedLength = vim.str_utfindex(full:sub(1, kept), 'utf-16'),
      })
    end
  end
end

--- Accept all or part of the shown item; false when none is shown. The edit is
--- scheduled by the built-in, so this works from expr mappings.
---@param part 'all'|'word'|'line'
---@return boolean
function M.accept(part)
  if part == 'all' then
    return vim.lsp.inline_completion.get()
  end
  return vim.lsp.inline_completion.get({ on_accept = accept_part(part) })
end

return M
