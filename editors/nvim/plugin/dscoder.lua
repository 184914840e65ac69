-- dscoder.nvim entry point: highlight, LspAttach wiring and the :Dscoder command.
-- Loading this file starts nothing; `vim.lsp.enable('dscoder')` or
-- `require('dscoder').setup()` starts the server.

if vim.g.loaded_dscoder then
  return
end
vim.g.loaded_dscoder = true

if vim.fn.has('nvim-0.11') == 0 then
  vim.notify_once('dscoder.nvim needs Neovim 0.11 or newer', vim.log.levels.WARN)
  return
end

local group = vim.api.nvim_create_augroup('dscoder', { clear = true })

local function highlight()
  local comment = vim.api.nvim_get_hl(0, { name = 'Comment', link = false })
  if comment.ctermfg or vim.o.termguicolors then
    vim.api.nvim_set_hl(0, 'DscoderGhostText', { link = 'Comment', default = true })
    return
  end
  -- In 256 colours (tmux without RGB, the Linux console) a Comment without a
  -- cterm colour would draw suggestions exactly like code: use a dim grey.
  vim.api.nvim_set_hl(0, 'DscoderGhostText', {
    fg = comment.fg,
    italic = true,
    ctermfg = 244,
    cterm = { italic = true },
    default = true,
  })
end
highlight()
-- :colorscheme clears highlights first; link again unless the scheme set it.
vim.api.nvim_create_autocmd('ColorScheme', { group = group, callback = highlight })
vim.api.nvim_create_autocmd('OptionSet', {
  group = group,
  pattern = 'termguicolors',
  callback = highlight,
})
vim.api.nvim_create_autocmd('LspAttach', {
  group = group,
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if client and client.name == 'dscoder' then
      require('dscoder').attach(client, args.buf)
    end
  end,
})
-- $/progress from the server (the model loading) feeds the statusline.
vim.api.nvim_create_autocmd('LspProgress', {
  group = group,
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if client and client.name == 'dscoder' then
      require('dscoder.state').on_progress(args.data.params)
    end
  end,
})
-- vim.lsp.enable skips a config whose binary is missing without a word: say
-- so once, for the first buffer the client would have served.
vim.api.nvim_create_autocmd('FileType', {
  group = group,
  callback = function(args)
    if vim.bo[args.buf].buftype ~= '' or not (vim.lsp.is_enabled and vim.lsp.is_enabled('dscoder')) then
      return
    end
    local filetypes = (vim.lsp.config.dscoder or {}).filetypes
    if filetypes and not vim.tbl_contains(filetypes, vim.bo[args.buf].filetype) then
      return
    end
    require('dscoder.state').check_binary()
  end,
})
vim.api.nvim_create_autocmd('LspDetach', {
  group = group,
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if client and client.name == 'dscoder' then
      require('dscoder').detach(args.buf)
    end
  end,
})

-- <Plug>(dscoder-accept) and friends, for users who map their own keys
-- (set `keymaps = { accept = false, ... }` in setup() to drop the defaults).
require('dscoder').plug_mappings()

local subcommands = {
  enable = function()
    require('dscoder').enable()
  end,
  disable = function()
    require('dscoder').disable()
  end,
  toggle = function()
    require('dscoder').toggle()
  end,
  buf_enable = function()
    require('dscoder').enable(0)
  end,
  buf_disable = function()
    require('dscoder').disable(0)
  end,
  buf_toggle = function()
    require('dscoder').toggle(0)
  end,
  auto_trigger = function(arg)
    local value = nil
    if arg == 'on' then
      value = true
    elseif arg == 'off' then
      value = false
    end
    local on = require('dscoder').set_auto_trigger(value)
    vim.notify('dscoder: auto-trigger ' .. (on and 'on' or 'off'))
  end,
  status = function()
    vim.notify(require('dscoder').status_line())
  end,
}

vim.api.nvim_create_user_command('Dscoder', function(cmd)
  local name, arg = cmd.fargs[1] or 'status', cmd.fargs[2]
  local run = subcommands[name]
  if not run then
    vim.notify('dscoder: unknown subcommand ' .. name, vim.log.levels.ERROR)
    return
  end
  run(arg)
end, {
  nargs = '*',
  desc = 'dscoder: enable, disable, toggle, buf_enable, buf_disable, buf_toggle, auto_trigger, status',
  complete = function(lead, line)
    if line:match('^%s*%S+%s+auto_trigger%s') then
      return vim.tbl_filter(function(v)
        return vim.startswith(v, lead)
      end, { 'on', 'off' })
    end
    local names = vim.tbl_keys(subcommands)
    table.sort(names)
    return vim.tbl_filter(function(v)
      return vim.startswith(v, lead)
    end, names)
  end,
})
