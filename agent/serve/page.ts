/**
 * The central-station page at GET /. This first version lists beds, live vitals and active alarms
 * by polling the JSON API; the full dashboard (issue 9) replaces it.
 */
export function renderPage(hubId: string): string {
  const safeHub = hubId.replace(/[^A-Za-z0-9._-]/g, '')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bedside-hub ${safeHub}</title>
<style>
body{font-family:system-ui,sans-serif;background:#111;color:#eee;margin:0;padding:12px}
#beds{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:8px}
.bed{background:#222;border-radius:6px;padding:8px}.bed h2{margin:0 0 4px;font-size:16px}
.v{font-size:14px}.alarm{padding:6px;margin:4px 0;border-radius:4px;color:#000}
.high{background:#e33}.medium{background:#fd0}.low{background:#0cf}
</style></head><body>
<h1>Ward ${safeHub}</h1><div id="alarms"></div><div id="beds"></div>
<script>
const esc=(s)=>String(s).replace(/[&<>"']/g,(c)=>'&#'+c.charCodeAt(0)+';');
async function refresh(){
  try{
    const beds=(await (await fetch('/api/beds')).json()).beds;
    const alarms=(await (await fetch('/api/alarms?state=active')).json()).alarms;
    document.getElementById('alarms').innerHTML=alarms.map(a=>'<div class="alarm '+esc(a.priority)+'">'+esc(a.bedId)+': '+esc(a.message)+' ('+esc(a.state)+')</div>').join('');
    document.getElementById('beds').innerHTML=beds.map(b=>'<div class="bed"><h2>'+esc(b.id)+'</h2>'+b.vitals.map(v=>'<div class="v">'+esc(v.code)+' '+esc(v.value)+' '+esc(v.unit)+'</div>').join('')+'</div>').join('');
  }catch(e){}
}
refresh();setInterval(refresh,1000);
</script></body></html>`
}
