#define _GNU_SOURCE
// Minimal provided runtime: GET next, POST response "{}" — for benchmarking only.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
static int conn(const char *api){ char host[64]; strncpy(host, api, 63); host[63]=0; char *c=strchr(host,':'); *c=0; int port=atoi(c+1);
 int s=socket(AF_INET,SOCK_STREAM,0); struct sockaddr_in a={0}; a.sin_family=AF_INET; a.sin_port=htons(port); inet_pton(AF_INET,host,&a.sin_addr);
 if(connect(s,(void*)&a,sizeof a)) { perror("connect"); exit(1);} int one=1; setsockopt(s,IPPROTO_TCP,TCP_NODELAY,&one,4); return s; }
static char buf[1<<20];
static int readresp(int s, char *id){ int n=0; for(;;){ int r=read(s,buf+n,sizeof(buf)-1-n); if(r<=0) exit(0); n+=r; buf[n]=0; char *e=strstr(buf,"\r\n\r\n"); if(!e) continue;
  char *cl=strcasestr(buf,"content-length:"); int len=cl?atoi(cl+15):0; if(n-(e+4-buf)<len) continue;
  if(id){ char *h=strcasestr(buf,"lambda-runtime-aws-request-id:"); if(h){ h+=30; while(*h==' ')h++; int i=0; while(h[i]!='\r') {id[i]=h[i]; i++;} id[i]=0; } } return 0; } }
int main(){ const char *api=getenv("AWS_LAMBDA_RUNTIME_API"); int s=conn(api); char id[128]; char req[512];
 for(;;){ int l=snprintf(req,sizeof req,"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"); write(s,req,l); readresp(s,id);
  l=snprintf(req,sizeof req,"POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",id); write(s,req,l); readresp(s,NULL); } }
