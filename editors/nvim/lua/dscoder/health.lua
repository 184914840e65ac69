-- :checkhealth dscoder: Neovim version, the server binary and version, and the
-- engine and model a running server reports.

local M = {}

local function server_cmd()
  local cfg = vim.lsp.config.dscoder
  local cmd = cfg and cfg.cmd
  if type(cmd) == 'table' then
    return cmd
  end
  return nil
end

function M.check()
  local health = vim.health
  health.start('dscoder: Neovim')
  if vim.fn.has('nvim-0.11') == 1 then
    health.ok('Neovim ' .. tostring(vim.version()))
  else
    health.error('Neovim 0.11 or newer is needed', { 'Upgrade Neovim' })
    return
  end
  local config = require('dscoder.config')
  if config.use_builtin() then
    health.ok('ghost text: built-in vim.lsp.inline_completion (Neovim 0.12+)')
  else
    health.ok('ghost text: dscoder renderer (extmarks)')
  end
  if not vim.lsp.is_enabled or not vim.lsp.is_enabled('dscoder') then
    health.warn("the 'dscoder' LSP config is not enabled", {
      "call require('dscoder').setup() or vim.lsp.enable('dscoder')",
    })
  end

  health.start('dscoder: server')
  local cmd = server_cmd()
  if not cmd then
    health.error("no `cmd` in vim.lsp.config.dscoder (is editors/nvim on 'runtimepath'?)")
    return
  end
  local exe = vim.fn.exepath(cmd[1])
  if exe == '' then
    health.error(('%s not found on PATH'):format(cmd[1]), {
      'install the server: `pip install dscoder-lsp` (or `make install` in the repository)',
      "or point setup({ server = { cmd = { '/path/to/dscoder-lsp', '--stdio' } } }) at it",
    })
    return
  end
  health.ok('binary: ' .. exe)
  local ok, result = pcall(function()
    return vim.system({ exe, '--version' }, { text = true }):wait(10000)
  end)
  if ok and result.code == 0 then
    health.ok('version: ' .. vim.trim(result.stdout or ''))
  else
    health.error('`' .. exe .. ' --version` failed: ' .. vim.trim(ok and (result.stderr or '') or result))
  end

  local state = require('dscoder.state')
  local clients = vim.lsp.get_clients({ name = 'dscoder' })
  if #clients == 0 and state.engine.state == 'crashed' then
    health.error(tostring(state.engine.message), {
      'see the server log: :lua vim.cmd.edit(vim.lsp.log.get_filename())',
      'run `dscoder-lsp doctor` in a terminal',
      ('the client restarts by itself (crashes in a row: %d)'):format(state.crash_count()),
    })
    return
  end
  if #clients == 0 then
    health.info('no dscoder client running: open a file to see the engine and model')
    return
  end
  for _, client in ipairs(clients) do
    local response = client:request_sync('dscoder/stats', vim.empty_dict(), 3000)
    local stats = response and response.result
    if not stats then
      health.warn(('client %d: no answer to dscoder/stats'):format(client.id))
    else
      health.ok(('server %s (client %d, root %s)'):format(
        tostring(stats.version),
        client.id,
        tostring(client.root_dir or 'none')
      ))
      health.ok('engine: ' .. tostring(stats.engine))
      local model = ('model: %s (%s)'):format(tostring(stats.model), tostring(stats.modelState))
      if stats.modelState == 'failed' then
        health.error(model .. ': ' .. tostring(stats.modelMessage), {
          'run `dscoder-lsp doctor` in a terminal',
          'set the model path: setup({ server = { init_options = { model = { path = ... } } } })',
          'or the DSCODER_MODEL environment variable',
        })
      elseif stats.modelState == 'ready' then
        health.ok(model)
      elseif state.stuck() then
        health.error(('%s: stuck (%s)'):format(model, state.stuck()), {
          'run `dscoder-lsp doctor` in a terminal',
          'see the server log: :lua vim.cmd.edit(vim.lsp.log.get_filename())',
        })
      else
        health.info(model)
      end
      if stats.lastError and stats.lastError ~= vim.NIL then
        health.warn('last error: ' .. tostring(stats.lastError))
      end
    end
  end
end

return M
