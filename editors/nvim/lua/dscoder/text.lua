-- Pure string helpers for partial accepts (shared by both renderers).

local M = {}

--- The next word of a suggestion, with the whitespace before it.
--- A suggestion that starts a new line yields the line break and the indent.
---@param text string
---@return string
function M.next_word(text)
  if text:sub(1, 1) == '\n' then
    return text:match('^\n[ \t]*')
  end
  return text:match('^[ \t]*[%w_]+')
    or text:match('^[ \t]*[^%w_%s]+')
    or text:match('^[ \t]+')
    or text:sub(1, 1)
end

--- The rest of the current line of a suggestion; at a line break, the next line with it.
---@param text string
---@return string
function M.next_line(text)
  if text:sub(1, 1) == '\n' then
    return '\n' .. text:sub(2):match('^[^\n]*')
  end
  return text:match('^[^\n]*')
end

---@param text string
---@param part 'all'|'word'|'line'
---@return string
function M.chunk(text, part)
  if part == 'word' then
    return M.next_word(text)
  elseif part == 'line' then
    return M.next_line(text)
  end
  return text
end

return M
