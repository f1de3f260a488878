package com.example.catalog;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/** Reads the product feed that suppliers upload. */
public class XmlImporter {

    public List<Product> read(InputStream upload) throws Exception {
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        DocumentBuilder builder = factory.newDocumentBuilder();
        Document doc = builder.parse(upload);
        NodeList nodes = doc.getElementsByTagName("product");
        List<Product> products = new ArrayList<>();
        for (int i = 0; i < nodes.getLength(); i++) {
            Element e = (Element) nodes.item(i);
            String sku = e.getAttribute("sku");
            String name = e.getElementsByTagName("name").item(0).getTextContent();
            products.add(new Product(sku, name.trim()));
        }
        return products;
    }
}
