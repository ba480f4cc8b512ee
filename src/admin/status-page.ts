import type { FastifyInstance } from 'fastify';

/**
 * GET /status on the admin port: one self-contained HTML page (no CDN, no external file) that polls /status.json and
 * draws its charts as inline SVG. Data goes into the DOM through textContent and SVG attributes only, never as markup,
 * so a model id or path can never inject anything.
 */
export function registerStatusPage(admin: FastifyInstance): void {
  admin.get('/status', async (_request, reply) =>
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header(
        'content-security-policy',
        "default-src 'none'; connect-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:",
      )
      .send(STATUS_PAGE),
  );
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}
header{background:#1d3b53;color:#fff;padding:12px 20px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px;padding:16px}
section{min-width:0;overflow-wrap:anywhere;background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px #0002}
h2{font-size:15px;margin:0 0 8px}
.big{font-size:28px;font-weight:600;color:#0a7d4f}
.muted{color:#5b6672;font-size:12px}
table{border-collapse:collapse;width:100%;font-size:13px;table-layout:fixed}
td,th{text-align:left;padding:3px 6px;border-bottom:1px solid #e3e6ea}
.fallback{color:#b3261e;font-weight:600}.policy{color:#0a7d4f;font-weight:600}
svg{width:100%;height:180px;display:block}
svg text{font-size:10px;fill:#5b6672}
`;

/** The page's script: fetch, then draw. Small on purpose: line charts over time and one bar chart. */
const SCRIPT = `
const NS='http://www.w3.org/2000/svg';
const COLORS=['#1f77b4','#d62728','#2ca02c','#9467bd','#ff7f0e','#17becf','#8c564b','#e377c2'];
const $=(id)=>document.getElementById(id);
function el(name,attrs,parent){const e=document.createElementNS(NS,name);for(const[k,v]of Object.entries(attrs))e.setAttribute(k,String(v));if(parent)parent.appendChild(e);return e;}
function text(parent,x,y,s,anchor){const t=el('text',{x,y,'text-anchor':anchor||'start'},parent);t.textContent=s;return t;}
function clear(node){while(node.firstChild)node.removeChild(node.firstChild);}
function bytes(n){const u=['B','KB','MB','GB','TB'];let i=0;while(Math.abs(n)>=1024&&i<u.length-1){n/=1024;i++;}return n.toFixed(i?1:0)+' '+u[i];}
function row(table,cells,cls){const tr=document.createElement('tr');cells.forEach((c,i)=>{const td=document.createElement('td');td.textContent=c==null?'-':String(c);if(cls&&cls[i])td.className=cls[i];tr.appendChild(td);});table.appendChild(tr);}
function lineChart(svg,series,opts){
  clear(svg);const W=600,H=180,L=64,R=8,T=8,B=22;svg.setAttribute('viewBox','0 0 '+W+' '+H);
  const pts=series.flatMap(s=>s.points);
  el('rect',{x:L,y:T,width:W-L-R,height:H-T-B,fill:'#fafbfc',stroke:'#e3e6ea'},svg);
  if(pts.length===0){text(svg,W/2,H/2,'no data yet','middle');return;}
  const t0=Math.min(...pts.map(p=>p.t)),t1=Math.max(...pts.map(p=>p.t),t0+1);
  const y0=opts.min??Math.min(0,...pts.map(p=>p.v)),y1=opts.max??Math.max(1e-9,...pts.map(p=>p.v));
  const X=t=>L+(W-L-R)*(t-t0)/(t1-t0),Y=v=>T+(H-T-B)*(1-(v-y0)/((y1-y0)||1));
  for(let i=0;i<=4;i++){const v=y0+(y1-y0)*i/4;el('line',{x1:L,x2:W-R,y1:Y(v),y2:Y(v),stroke:'#eceff2'},svg);text(svg,L-4,Y(v)+3,opts.fmt?opts.fmt(v):v.toFixed(2),'end');}
  text(svg,L,H-6,new Date(t0).toLocaleTimeString());text(svg,W-R,H-6,new Date(t1).toLocaleTimeString(),'end');
  series.forEach((s,i)=>{if(s.points.length===0)return;const c=COLORS[i%COLORS.length];
    const d=s.points.map((p,j)=>(j?'L':'M')+X(p.t).toFixed(1)+' '+Y(p.v).toFixed(1)).join(' ');
    el('path',{d,fill:'none',stroke:c,'stroke-width':2,'data-series':s.name},svg);
    for(const p of s.points)el('circle',{cx:X(p.t),cy:Y(p.v),r:2.5,fill:c},svg);
    text(svg,L+6,T+12+12*i,s.name).style.fill=c;});
}
function barChart(svg,bars){
  clear(svg);const W=600,H=180,L=64,R=8,T=8,B=22;svg.setAttribute('viewBox','0 0 '+W+' '+H);
  if(bars.length===0){text(svg,W/2,H/2,'no images re-encoded yet','middle');return;}
  const max=Math.max(...bars.map(b=>b.value),1),bw=(W-L-R)/bars.length;
  el('line',{x1:L,x2:W-R,y1:H-B,y2:H-B,stroke:'#c9ced4'},svg);text(svg,L-4,T+8,String(max),'end');
  bars.forEach((b,i)=>{const h=(H-T-B)*b.value/max;
    el('rect',{x:L+i*bw+2,y:H-B-h,width:Math.max(1,bw-4),height:h,fill:'#1f77b4','data-quality':b.label},svg);
    text(svg,L+i*bw+bw/2,H-8,b.label,'middle');});
}
function draw(s){
  const hist=s.history||[];const last=hist[hist.length-1]||{bytesIn:0,bytesOut:0,actions:{},originals:{},references:{},referenceRefusals:0,controllers:{}};
  const saved=last.bytesIn-last.bytesOut;
  $('saved').textContent=bytes(saved);
  $('saved-detail').textContent=bytes(last.bytesIn)+' in, '+bytes(last.bytesOut)+' sent upstream'+(last.bytesIn?' ('+(100*saved/last.bytesIn).toFixed(1)+'% saved)':'');
  lineChart($('chart-saved'),[{name:'bytes saved',points:hist.map(h=>({t:h.t,v:h.bytesIn-h.bytesOut}))}],{fmt:bytes});
  barChart($('chart-actions'),Object.entries(last.actions).sort((a,b)=>Number(a[0])-Number(b[0])).map(([q,v])=>({label:'q'+q,value:v})));
  const keys=[...new Set(hist.flatMap(h=>Object.keys(h.controllers)))];
  lineChart($('chart-agreement'),keys.map(k=>({name:k,points:hist.filter(h=>h.controllers[k]&&h.controllers[k].windowMean!=null).map(h=>({t:h.t,v:h.controllers[k].windowMean}))})),{min:0,max:1});
  const ct=$('controllers');clear(ct);row(ct,['provider/operation','state','agreement','samples','model','needs retraining']);
  for(const[k,c]of Object.entries(s.controllers||{}))row(ct,[k,c.state,c.windowMean==null?'-':c.windowMean.toFixed(3),c.samples+'/'+c.windowSize,c.modelId,c.needsRetraining?'yes':'no'],[null,c.state]);
  const cb=$('calibration');clear(cb);row(cb,['provider/operation','resolution floor','level','agreement [bounds]','references','moves','state']);
  for(const[k,c]of Object.entries(s.calibration||{}))row(cb,[k,c.point.floor==null?'stored size':c.point.floor+' px',String(c.point.level),c.estimate?c.estimate.mean.toFixed(3)+' ['+c.estimate.low.toFixed(3)+', '+c.estimate.high.toFixed(3)+']':'-',String(c.samples),String(c.moves),c.calibrating?'exploring':'settled']);
  const r=last.references;
  $('refs').textContent='sent '+(r.sent||0)+' · reused '+(r.reused||0)+' · failed '+(r.failed||0)+' · refused by budget '+last.referenceRefusals;
  lineChart($('chart-refs'),['sent','reused','failed','probe'].map(k=>({name:k,points:hist.map(h=>({t:h.t,v:h.references[k]||0}))})).concat([{name:'refused by budget',points:hist.map(h=>({t:h.t,v:h.referenceRefusals}))}]),{fmt:v=>v.toFixed(0)});
  const mt=$('models');clear(mt);row(mt,['key','model in use','loaded','file']);
  for(const m of (s.policy&&s.policy.models)||[])row(mt,[m.key,m.modelId||('fallback '+s.policy.fallbackId),m.loadedAt,m.path+(m.lastError?' (refused: '+m.lastError.code+')':'')]);
  $('fallback').textContent='fallback policy: '+(s.policy?s.policy.fallbackId:'-');
  const ot=$('originals');clear(ot);row(ot,['reason','images']);for(const[k,v]of Object.entries(last.originals))row(ot,[k,v]);
  $('updated').textContent='updated '+new Date().toLocaleTimeString()+' · '+hist.length+' samples';
  document.body.dataset.loaded='true';
}
async function refresh(){try{const res=await fetch('status.json',{cache:'no-store'});draw(await res.json());$('error').textContent='';}catch(e){$('error').textContent='status.json unavailable: '+e;}}
refresh();setInterval(refresh,10000);
`;

const STATUS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>adacompress-proxy status</title><style>${STYLE}</style></head>
<body>
<header><h1>adacompress-proxy</h1><span id="updated" class="muted"></span><span id="error"></span></header>
<main>
<section><h2>Bytes saved</h2><div id="saved" class="big">-</div><div id="saved-detail" class="muted"></div><svg id="chart-saved" role="img" aria-label="bytes saved over time"></svg></section>
<section><h2>Actions (JPEG quality chosen)</h2><svg id="chart-actions" role="img" aria-label="actions histogram"></svg></section>
<section><h2>Agreement with reference answers</h2><svg id="chart-agreement" role="img" aria-label="agreement over time"></svg></section>
<section><h2>Controllers</h2><table id="controllers"></table></section>
<section><h2>Calibration (target agreement per provider/operation)</h2><table id="calibration"></table></section>
<section><h2>Reference spend</h2><div id="refs"></div><svg id="chart-refs" role="img" aria-label="reference uploads over time"></svg></section>
<section><h2>Model in use</h2><table id="models"></table><div id="fallback" class="muted"></div></section>
<section><h2>Forwarded as sent</h2><table id="originals"></table></section>
</main>
<script>${SCRIPT}</script>
</body></html>`;
