/*
 * The Hive metastore's Thrift server on one address instead of every interface.
 *
 * Hive 2.3 (the metastore inside pyspark, which the embedded stack runs) always binds its
 * Thrift port to the wildcard address: HiveMetaStore.startMetaStore passes a null host to
 * HiveAuthUtils.getServerSocket, and `hive.metastore.thrift.bind.host` only exists from
 * Hive 3 on. This is the unsecured branch of startMetaStore (no SASL, no SSL: the embedded
 * stack uses neither), with the same handler, processor, transports, thread pool and
 * connection clean-up, on a server socket bound to the address given.
 *
 * Usage: BoundHiveMetaStore <bind host> <port>
 */

import java.lang.reflect.Constructor;
import java.net.InetSocketAddress;
import org.apache.hadoop.hive.conf.HiveConf;
import org.apache.hadoop.hive.conf.HiveConf.ConfVars;
import org.apache.hadoop.hive.metastore.HiveMetaStore;
import org.apache.hadoop.hive.metastore.IHMSHandler;
import org.apache.hadoop.hive.metastore.TServerSocketKeepAlive;
import org.apache.hadoop.hive.metastore.TSetIpAddressProcessor;
import org.apache.hadoop.hive.metastore.TUGIBasedProcessor;
import org.apache.hadoop.hive.thrift.TUGIContainingTransport;
import org.apache.thrift.TProcessor;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.server.TServer;
import org.apache.thrift.server.TServerEventHandler;
import org.apache.thrift.server.TThreadPoolServer;
import org.apache.thrift.transport.TServerSocket;
import org.apache.thrift.transport.TTransportFactory;

public final class BoundHiveMetaStore {
  public static void main(String[] args) throws Throwable {
    if (args.length != 2) {
      throw new IllegalArgumentException("usage: BoundHiveMetaStore <bind host> <port>");
    }
    String host = args[0];
    int port = Integer.parseInt(args[1]);

    HiveConf.setLoadMetastoreConfig(true);
    HiveConf conf = new HiveConf(HiveMetaStore.HMSHandler.class);
    for (ConfVars unsupported :
        new ConfVars[] {
          ConfVars.METASTORE_USE_THRIFT_SASL,
          ConfVars.HIVE_METASTORE_USE_SSL,
          ConfVars.METASTORE_USE_THRIFT_FRAMED_TRANSPORT,
          ConfVars.METASTORE_USE_THRIFT_COMPACT_PROTOCOL
        }) {
      if (conf.getBoolVar(unsupported)) {
        throw new IllegalStateException(unsupported.varname + " is not supported here");
      }
    }
    long maxMessageSize = conf.getLongVar(ConfVars.METASTORESERVERMAXMESSAGESIZE);
    int minThreads = conf.getIntVar(ConfVars.METASTORESERVERMINTHREADS);
    int maxThreads = conf.getIntVar(ConfVars.METASTORESERVERMAXTHREADS);

    HiveMetaStore.HMSHandler base =
        new HiveMetaStore.HMSHandler("new db based metaserver", conf, false);
    IHMSHandler handler = HiveMetaStore.newRetryingHMSHandler(base, conf);
    TProcessor processor;
    TTransportFactory transport;
    if (conf.getBoolVar(ConfVars.METASTORE_EXECUTE_SET_UGI)) {
      processor = new TUGIBasedProcessor<>(handler);
      transport = new TUGIContainingTransport.Factory();
    } else {
      processor = new TSetIpAddressProcessor<>(handler);
      transport = new TTransportFactory();
    }

    TServerSocket socket = new TServerSocket(new InetSocketAddress(host, port));
    if (conf.getBoolVar(ConfVars.METASTORE_TCP_KEEP_ALIVE)) {
      socket = new TServerSocketKeepAlive(socket);
    }
    TThreadPoolServer.Args serverArgs =
        new TThreadPoolServer.Args(socket)
            .processor(processor)
            .transportFactory(transport)
            .protocolFactory(new TBinaryProtocol.Factory())
            .inputProtocolFactory(
                new TBinaryProtocol.Factory(true, true, maxMessageSize, maxMessageSize))
            .minWorkerThreads(minThreads)
            .maxWorkerThreads(maxThreads);
    TServer server = new TThreadPoolServer(serverArgs);
    server.setServerEventHandler(connectionCleanup());
    System.out.println(
        "BoundHiveMetaStore: serving the metastore on " + host + ":" + port);
    server.serve();
  }

  /**
   * HiveMetaStore's own event handler (an anonymous class): it closes the RawStore of a
   * worker thread when its connection ends, so that connections do not leak stores.
   */
  private static TServerEventHandler connectionCleanup() throws ReflectiveOperationException {
    Class<?> cls = Class.forName("org.apache.hadoop.hive.metastore.HiveMetaStore$3");
    if (!TServerEventHandler.class.isAssignableFrom(cls)) {
      throw new IllegalStateException(cls + " is not the metastore's TServerEventHandler");
    }
    Constructor<?> constructor = cls.getDeclaredConstructor();
    constructor.setAccessible(true);
    return (TServerEventHandler) constructor.newInstance();
  }
}
