-- Default client config for `vim.lsp.enable('dscoder')` (Neovim 0.11+).
--
-- Neovim merges this file with anything given to `vim.lsp.config('dscoder', {...})`,
-- which is what `require('dscoder').setup()` does with its `server` options.
-- `init_options` is sent as the server's initializationOptions (nested camelCase,
-- see docs/protocol.md), e.g. { model = { path = '/models/ds.gguf' }, maxTokens = 64 }.

---@type vim.lsp.Config
return {
  cmd = { 'dscoder-lsp', '--stdio' },
  root_markers = { '.git', '.hg', 'pyproject.toml', 'package.json', 'Cargo.toml', 'go.mod' },
  init_options = {},
  -- A crash is told once and restarted with backoff (lua/dscoder/state.lua).
  on_init = function()
    local ok, state = pcall(require, 'dscoder.state')
    if ok then
      state.on_start()
    end
  end,
  on_exit = function(code, signal)
    local ok, state = pcall(require, 'dscoder.state')
    if ok then
      state.on_exit(code, signal)
    end
  end,
  handlers = {
    -- Model state changes (loading, ready, failed): kept for :Dscoder status.
    ['dscoder/status'] = function(_, params, ctx)
      local ok, dscoder = pcall(require, 'dscoder')
      if ok then
        dscoder.on_server_status(ctx.client_id, params)
      end
    end,
  },
}
