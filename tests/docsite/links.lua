-- pandoc filter for tests/docsite/md2rst.py: links between docs/*.md pages become links
-- between the docsite pages; links to files that are not in the docsite become text.
local pages = {}
for name in string.gmatch(os.getenv('UVFLEET_DOCSITE_PAGES') or '', '[^,]+') do
  pages[name] = true
end

function Link(el)
  local target = el.target
  if target:match('^%a[%w+.-]*:') or target:match('^#') then
    return el
  end
  local page, anchor = target:match('^([%w_-]+)%.md(#?.*)$')
  if page and pages[page] then
    el.target = page .. '.html' .. anchor
    return el
  end
  return el.content
end

function Image(el)
  -- figures live beside the pages: docs/figures/x.png -> docsite/figures/x.png
  return el
end
