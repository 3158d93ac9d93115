"""The browser check itself can fail: it sees console errors and missing content."""

from browser import CHROMIUM, render
from conftest import require_system_tool


def test_console_errors_are_seen(tmp_path):
    require_system_tool(bool(CHROMIUM), 'chromium')
    page = tmp_path / 'broken.html'
    page.write_text('<!DOCTYPE html><html><body><section id="data">x</section>'
                    '<script>console.error("boom"); undefinedFunction();</script></body></html>')
    dom, console = render(str(page), str(tmp_path / 'shot.png'))
    assert '<section id="data">' in dom
    assert any('boom' in m for m in console)
    assert any('undefinedFunction' in m for m in console)
    assert (tmp_path / 'shot.png').stat().st_size > 0
