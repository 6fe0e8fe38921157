// Tabs after the WAI-ARIA pattern: one tab in the page's tab order, arrow keys (and Home/End)
// move between tabs and select them. A panel gets a "tab:shown" event each time it is shown,
// so what it holds can load only once someone looks at it.

export function mountTabs(list) {
  const tabs = [...list.querySelectorAll('[role="tab"]')];
  const panelOf = (tab) => document.getElementById(tab.getAttribute("aria-controls"));

  function select(chosen, { focus = false } = {}) {
    for (const tab of tabs) {
      const selected = tab === chosen;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      const panel = panelOf(tab);
      if (panel) panel.hidden = !selected;
    }
    if (focus) chosen.focus();
    const panel = panelOf(chosen);
    if (panel) panel.dispatchEvent(new CustomEvent("tab:shown"));
  }

  list.addEventListener("click", (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab && tab.getAttribute("aria-selected") !== "true") select(tab);
  });
  list.addEventListener("keydown", (event) => {
    const at = tabs.indexOf(document.activeElement);
    if (at < 0) return;
    const next = {
      ArrowRight: (at + 1) % tabs.length,
      ArrowLeft: (at - 1 + tabs.length) % tabs.length,
      Home: 0,
      End: tabs.length - 1,
    }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    select(tabs[next], { focus: true });
  });
  return { select: (id) => select(tabs.find((tab) => tab.id === id) || tabs[0]) };
}
