-- Plugin options: defaults, merged with what the user passes to setup().

local M = {}

---@class dscoder.Keymaps
---@field accept string|false Accept the whole suggestion (falls back to the key itself).
---@field accept_word string|false Accept the next word.
---@field accept_line string|false Accept the rest of the current line.
---@field dismiss string|false Hide the suggestion.
---@field trigger string|false Ask for a suggestion now.
---@field next string|false Show the next alternative (asks for alternatives when there is one).
---@field previous string|false Show the previous alternative.

---@class dscoder.Options
---@field auto_trigger boolean Ask for suggestions while typing (otherwise only on `trigger`).
---@field debounce_ms integer Extra wait after the last keystroke before asking (0.11 renderer); 0: none, the server debounces.
---@field renderer 'auto'|'builtin'|'plugin' `auto`: vim.lsp.inline_completion on 0.12+, else ours.
---@field disabled_filetypes string[] Filetypes that never get suggestions.
---@field keymaps dscoder.Keymaps
---@field server table Passed to `vim.lsp.config('dscoder', ...)`; `init_options` go to the server.
---@field enable_lsp boolean setup() calls `vim.lsp.enable('dscoder')`.
---@field restart boolean Restart the client after the server crashes (backoff 1, 2, 5, 10, 30 s).
M.defaults = {
  auto_trigger = true,
  debounce_ms = 0,
  renderer = 'auto',
  disabled_filetypes = { 'help', 'gitcommit', 'gitrebase', 'TelescopePrompt' },
  keymaps = {
    accept = '<Tab>',
    accept_word = '<M-Right>',
    accept_line = '<M-Down>',
    dismiss = '<C-]>',
    trigger = '<M-\\>',
    next = '<M-]>',
    previous = '<M-[>',
  },
  server = {},
  enable_lsp = true,
  restart = true,
}

---@type dscoder.Options
M.options = vim.deepcopy(M.defaults)

---@param opts? table
---@return dscoder.Options
function M.set(opts)
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  return M.options
end

--- Whether the built-in vim.lsp.inline_completion (Neovim 0.12+) renders the ghost text.
---@return boolean
function M.use_builtin()
  local renderer = M.options.renderer
  if renderer == 'plugin' then
    return false
  end
  local available = vim.lsp.inline_completion ~= nil and vim.lsp.inline_completion.enable ~= nil
  if renderer == 'builtin' and not available then
    vim.notify_once('dscoder: vim.lsp.inline_completion needs Neovim 0.12; using the plugin renderer')
  end
  return available
end

return M
